"""`gen explain ID`: one variant's story as data, and as text for a terminal.

Why the plan kept or pruned it (reasons, suggestions, notes), what `gen verify` proved about
each resource it needs (from the lock), and how it did in the smoke results given: every
result for it, and the promotion verdict for its target (rank, or the rejection reason).
"""

from __future__ import annotations

from typing import Any

from generator.lock import Lock, resource_key
from generator.plan import Plan, Variant
from generator.promote.decide import Decision
from generator.promote.results import Inputs


def _verified(v: Variant, lock: Lock | None, lock_path: str) -> dict[str, Any]:
    resources = []
    for resource in v.resources():
        key = resource_key(resource)
        entry = lock.resources.get(key) if lock else None
        item: dict[str, Any] = {"key": key, "status": entry.status if entry else "not-checked"}
        if entry:
            item.update({k: val for k, val in (("digest", entry.digest),
                                               ("checked_at", entry.checked_at),
                                               ("evidence", entry.evidence)) if val})
        resources.append(item)
    return {"lock": lock_path, "lock_found": lock is not None, "resources": resources}


def _smoke(v: Variant, inputs: Inputs, decision: Decision) -> dict[str, Any]:
    results = []
    for r in sorted((r for r in inputs.smoke if r.variant == v.id), key=lambda r: r.file):
        results.append({"file": r.file, "status": r.status, "category": r.category,
                        "message": r.message, "gpu": r.gpu_name, "compute_capability": r.gpu_cc,
                        "digest": r.digest, "perf_tflops": r.perf(v.candidate.strategy)})
    builds = sorted((b for b in inputs.builds if b.variant == v.id), key=lambda b: b.file)
    verdict: dict[str, Any]
    ranked = [c.id for c in decision.ranking]
    if v.id in ranked:
        i = ranked.index(v.id)
        c = decision.ranking[i]
        verdict = {"outcome": "winner" if i == 0 else "ranked", "rank": i + 1,
                   "of": len(ranked), "perf_tflops": c.perf, "stand_in": c.stand_in,
                   "notes": c.notes}
        if i > 0:
            ahead = decision.ranking[i - 1]
            verdict["behind"] = {"variant": ahead.id, "why": ahead.decided_by[1]
                                 if ahead.decided_by else ""}
    else:
        rejections = [r.as_dict() for r in decision.rejected if r.variant == v.id]
        verdict = {"outcome": "rejected" if rejections else "untested",
                   "rejections": rejections}
    return {"target": decision.target.name, "files": len(inputs.files), "results": results,
            "builds": [{"file": b.file, "image": b.image, "digest": b.digest} for b in builds],
            "verdict": verdict}


def explain_data(plan: Plan, v: Variant, lock: Lock | None, lock_path: str,
                 inputs: Inputs | None = None, decision: Decision | None = None
                 ) -> dict[str, Any]:
    out = {k: val for k, val in v.as_dict().items() if k != "resources"}
    out["verified"] = _verified(v, lock, lock_path)
    if inputs is not None and decision is not None:
        out["smoke"] = _smoke(v, inputs, decision)
    return out


# ---------------------------------------------------------------- text


def _facts(d: dict[str, Any]) -> list[str]:
    abi = {True: "C++11 ABI", False: "pre-C++11 ABI", None: "ABI unknown"}[d["cxx11_abi"]]
    preinstalled = "torch preinstalled" if d["torch_preinstalled"] else "torch installed by pip"
    fa = f"flash-attn {d['flash_attn']} by {d['strategy']}" if d["flash_attn"] else \
        "no flash-attn (strategy none: PyTorch SDPA only)"
    lines = [f"  target      {d['target']} ({d['gpu']}, cc {d['compute_capability']})",
             f"  base        {d['base']} ({d['flavour']}, {preinstalled})",
             f"  torch       {d['torch']}+{d['torch_cuda_tag']} (CUDA {d['cuda']}, {abi})",
             f"  Python      {d['python']}",
             f"  install     {fa}"]
    if d.get("wheel"):
        lines.append(f"  wheel       {d['wheel']['url']}")
    if d.get("builder"):
        lines.append(f"  built in    {d['builder']} (FLASH_ATTN_CUDA_ARCHS="
                     f"{d.get('cuda_archs', '?')})")
    if d["origin"] != "matrix":
        lines.append(f"  origin      {d['origin']}")
    return lines


def to_text(d: dict[str, Any]) -> str:
    out = [f"{d['id']}: {d['status']}", *_facts(d), ""]
    if d["status"] == "kept":
        out.append("Why kept: every rule passed for this combination.")
    else:
        out.append("Why pruned:")
        for r in d["reasons"]:
            out.append(f"  {r['code']}: {r['message']}")
            if r.get("suggestion"):
                out.append(f"    try: {r['suggestion']}")
    if d["notes"]:
        out.append("Notes:")
        out += [f"  - {n}" for n in d["notes"]]
    out.append("")
    ver = d["verified"]
    if not ver["lock_found"]:
        out.append(f"What was verified: nothing yet, there is no lock at {ver['lock']} "
                   "(run gen verify).")
    else:
        out.append(f"What was verified ({ver['lock']}):")
    for item in ver["resources"]:
        detail = item.get("digest") or item.get("evidence") or ""
        when = f" at {item['checked_at']}" if item.get("checked_at") else ""
        if item["status"] == "not-checked" and ver["lock_found"]:
            detail = "not in the lock (run gen verify)"
        out.append(f"  {item['status']:<11} {item['key']}" + (f"\n              {detail}{when}"
                                                              if detail else ""))
    smoke = d.get("smoke")
    if smoke is not None:
        out += ["", _smoke_text(smoke)]
    return "\n".join(out).rstrip() + "\n"


def _smoke_text(s: dict[str, Any]) -> str:
    out = [f"Smoke results ({len(s['results'])} for this variant among {s['files']} files):"]
    for b in s["builds"]:
        out.append(f"  built       {b['image']}@{b['digest']} ({b['file']})")
    for r in s["results"]:
        gpu = f"{r['gpu']} (cc {r['compute_capability']})" if r["gpu"] else "no GPU"
        perf = f", {r['perf_tflops']:.1f} TFLOP/s" if r["perf_tflops"] is not None else ""
        what = "pass" if r["status"] == "pass" else f"fail ({r['category'] or 'error'})"
        built = {b["digest"] for b in s["builds"]}
        stale = ", not the built one" if built and r["digest"] not in built else ""
        digest = (r["digest"] or "unknown")[:19]
        out.append(f"  {what:<11} {r['file']}: on {gpu}, image {digest}…{stale}{perf}")
        if r["status"] != "pass" and r["message"]:
            out.append(f"              {r['message']}")
    v = s["verdict"]
    target = s["target"]
    out.append("")
    if v["outcome"] == "winner":
        out.append(f"Promotion for {target}: the winner (rank 1 of {v['of']}).")
    elif v["outcome"] == "ranked":
        out.append(f"Promotion for {target}: rank {v['rank']} of {v['of']}, behind "
                   f"{v['behind']['variant']} ({v['behind']['why']}).")
    elif v["outcome"] == "rejected":
        out.append(f"Promotion for {target}: rejected.")
        for r in v["rejections"]:
            code = f"{r['code']} ({r['category']})" if r.get("category") else r["code"]
            out.append(f"  {code}: {r['message']}")
    else:
        out.append(f"Promotion for {target}: no smoke result for this variant, so it "
                   "cannot be promoted.")
    if v.get("stand_in"):
        out.append(f"  stand-in: {v['stand_in']}")
    return "\n".join(out)
