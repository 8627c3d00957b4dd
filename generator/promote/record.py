"""The decision record (promoted/<target>.json) and the Markdown report of a promotion.

The record is deterministic: the same plan, inputs and outcome give the same bytes (no
clock, keys sorted), so committing it shows a change only when the decision changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from generator.promote.decide import Contender, Decision
from generator.promote.results import RECORD_SCHEMA


@dataclass(frozen=True)
class Publication:
    """Where the canonical tag goes, and what happened to it."""

    repository: str
    tag: str
    digest: str
    action: str  # would-push | created | moved | unchanged
    previous: str | None = None  # the digest the tag had before, when known

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def published(self) -> bool:
        return self.action in ("created", "moved", "unchanged")

    def sentence(self) -> str:
        was = f" (it pointed at {self.previous})" if self.previous else ""
        return {
            "would-push": f"would point `{self.ref}` at `{self.digest}` (run with --push)",
            "created": f"created `{self.ref}` -> `{self.digest}`, read back and checked",
            "moved": f"moved `{self.ref}` to `{self.digest}`{was}, read back and checked",
            "unchanged": f"`{self.ref}` already points at `{self.digest}`: nothing changed",
        }[self.action]


def _contender(c: Contender, rank: int) -> dict[str, Any]:
    cand = c.variant.candidate
    return {
        "rank": rank,
        "variant": c.id,
        "image": c.build.image,
        "digest": c.build.digest,
        "strategy": cand.strategy,
        "flavour": cand.base.flavour,
        "base": cand.base.ref,
        "torch": cand.torch,
        "cuda": cand.torch_cuda,
        "python": cand.python,
        "flash_attn": cand.flash_attn,
        "perf_tflops": c.perf,
        "gpus": c.gpus,
        "stand_in": c.stand_in,
        "notes": c.notes,
        "files": [r.file for r in c.results],
        "decided_by": ({"key": c.decided_by[0], "why": c.decided_by[1]}
                       if c.decided_by else None),
    }


def to_record(d: Decision, publication: Publication | None) -> dict[str, Any]:
    winner = d.winner
    canonical = None
    if winner is not None:
        canonical = {
            "variant": winner.id,
            "image": winner.build.image,
            "digest": winner.build.digest,
            "evidence": [r.summary() for r in winner.results],
        }
        if publication is not None:
            canonical.update({"repository": publication.repository, "tag": publication.tag,
                              "reference": f"{publication.ref}@{publication.digest}",
                              "published": publication.published})
    return {
        "schema": RECORD_SCHEMA,
        "generated_by": "gen promote",
        "matrix": d.matrix.path,
        "target": {"name": d.target.name, "gpu": d.target.gpu,
                   "compute_capability": d.target.compute_capability},
        "policy": {"prefer": [{k: (list(v) if isinstance(v, tuple) else v)}
                              for k, v in d.matrix.policy.prefer],
                   "stand_ins": list(d.matrix.policy.stand_ins.get(d.target.name, ()))},
        "canonical": canonical,
        "ranking": [_contender(c, i) for i, c in enumerate(d.ranking, 1)],
        "rejected": [r.as_dict() for r in d.rejected],
        "untested": [{"variant": vid, "built": built} for vid, built in d.untested],
        "notes": d.notes,
        "inputs": sorted(d.inputs),
    }


def record_json(d: Decision, publication: Publication | None) -> str:
    return json.dumps(to_record(d, publication), indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------- Markdown


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _perf(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def to_markdown(d: Decision, publication: Publication | None,
                record_path: str | None = None) -> str:
    t = d.target
    out = [f"## gen promote: {t.name} ({t.gpu}, cc {t.compute_capability})", ""]
    winner = d.winner
    if winner is None:
        out += ["**No variant passed: nothing is promoted.**", ""]
    else:
        out += [f"**Canonical image:** `{winner.id}`", "",
                f"- image: `{winner.build.image}@{winner.build.digest}`",
                f"- smoked on: {', '.join(winner.gpus)}; forward "
                f"{_perf(winner.perf)} TFLOP/s"]
        if winner.stand_in:
            out.append(f"- **stand-in:** {_md(winner.stand_in)}")
        if publication is not None:
            out.append(f"- tag: {publication.sentence()}")
        if record_path:
            out.append(f"- decision record: `{record_path}`")
        out.append("")
    rejected = [r for r in d.rejected if r.code != "other-target"]
    others = len(d.rejected) - len(rejected)
    elsewhere = f" ({others} results for other targets set aside)" if others else ""
    out.append(f"{len(d.ranking)} passed, {len(rejected)} rejected{elsewhere}, "
               f"{len(d.untested)} kept variants without a smoke result; {len(d.inputs)} "
               "input files.")
    out.append("")
    if d.ranking:
        prefer = ", ".join(f"{k} ({'/'.join(v) if isinstance(v, tuple) else v})"
                           for k, v in d.matrix.policy.prefer)
        out += ["### Ranking", "", f"Policy, first key first: {prefer}.", "",
                "| # | variant | strategy | flavour | torch | flash-attn | Python | "
                "TFLOP/s | GPU | ahead of the next because |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for i, c in enumerate(d.ranking, 1):
            cand = c.variant.candidate
            why = c.decided_by[1] if c.decided_by else "(last)"
            gpu = ", ".join(c.gpus) + (" (stand-in)" if c.stand_in else "")
            out.append(f"| {i} | `{c.id}` | {cand.strategy} | {cand.base.flavour} | "
                       f"{cand.torch} | {cand.flash_attn or '-'} | {cand.python} | "
                       f"{_perf(c.perf)} | {_md(gpu)} | {_md(why)} |")
        out.append("")
    if rejected:
        out += ["### Rejected", "", "| variant | code | why | file |", "| --- | --- | --- | --- |"]
        for r in rejected:
            code = f"{r.code} ({r.category})" if r.category else r.code
            files = "<br>".join(f"`{f}`" for f in r.files)
            out.append(f"| `{r.variant}` | `{code}` | {_md(r.message)} | {files} |")
        out.append("")
    if d.notes:
        out += ["### Notes", ""] + [f"- {_md(n)}" for n in d.notes] + [""]
    if d.untested:
        out += ["<details><summary>Kept variants without a smoke result "
                f"({len(d.untested)})</summary>", ""]
        out += [f"- `{vid}`{'' if built else ' (no build record either)'}"
                for vid, built in d.untested]
        out += ["", "</details>", ""]
    return "\n".join(out)
