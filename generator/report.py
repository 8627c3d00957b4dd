"""Plan output: a terminal table, JSON, or Markdown (also used for generated/MATRIX.md)."""

from __future__ import annotations

import json

from generator.plan import Plan


def to_table(plan: Plan) -> str:
    """One line a variant; a pruned one gets its reasons and a suggestion below it."""
    lines = []
    for v in plan.variants:
        lines.append(f"{v.status:<6}  {v.id}")
        for r in v.reasons:
            lines.append(f"        {r.code}: {r.message}")
            if r.suggestion:
                lines.append(f"          try: {r.suggestion}")
    kept = len(plan.kept)
    lines.append("")
    lines.append(f"{len(plan.variants)} candidates: {kept} kept, "
                 f"{len(plan.variants) - kept} pruned")
    return "\n".join(lines) + "\n"


def to_json(plan: Plan) -> str:
    return json.dumps(plan.as_dict(), indent=2, sort_keys=False) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(plan: Plan, title: str = "Candidate variants") -> str:
    kept = plan.kept
    pruned = [v for v in plan.variants if not v.kept]
    out = [f"# {title}", "",
           f"{len(plan.variants)} candidates from `{plan.matrix.path}`: "
           f"{len(kept)} kept, {len(pruned)} pruned.", "",
           "## Kept", "",
           "| variant | base | torch | CUDA | Python | flash-attn | strategy | notes |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in kept:
        c = v.candidate
        out.append(f"| `{v.id}` | `{c.base.ref}` | {c.torch} | {c.torch_cuda} | {c.python} | "
                   f"{c.flash_attn or '-'} | {c.strategy} | {_md('; '.join(v.notes))} |")
    out += ["", "## Pruned", "", "| variant | code | why | what works instead |",
            "| --- | --- | --- | --- |"]
    for v in pruned:
        for r in v.reasons:
            out.append(f"| `{v.id}` | `{r.code}` | {_md(r.message)} | "
                       f"{_md(r.suggestion or '')} |")
    return "\n".join(out) + "\n"


FORMATTERS = {"table": to_table, "json": to_json, "markdown": to_markdown}
