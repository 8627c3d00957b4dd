"""Judge smoke evidence against the current plan and rank the passing variants by policy.

Each smoke result must name a kept variant of the target, match the digest CI built and
come from the target's compute capability (or a stand-in GPU the policy names). Results
that pass those checks are grouped per variant: results that disagree reject the
variant, failures reject it with their category, and the rest are ranked by
`policy.prefer`, each consecutive pair with the key that decided between them.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from generator import knowledge
from generator.errors import UserError, did_you_mean
from generator.matrix import Matrix, Target
from generator.plan import Plan, Variant
from generator.promote.results import BuildRecord, Inputs, SmokeResult

# code -> what it means (README and `gen promote --help` list these).
REJECTION_CODES: dict[str, str] = {
    "not-in-plan": "the variant is not kept in the current plan (unknown id, or pruned now)",
    "other-target": "the variant is built for another target than --target",
    "no-build": "no build metadata records the image digest CI built for the variant",
    "build-conflict": "build metadata files disagree on the variant's image digest",
    "digest-mismatch": "the smoked image is not the image CI built (stale or foreign result)",
    "device-mismatch": "smoked on a GPU of another compute capability, not a named stand-in "
                       "(or a stand-in, but the binary has no code for the target)",
    "superseded": "a stand-in result set aside because the target GPU itself has results",
    "conflicting-results": "several results for the variant disagree (pass and fail, or "
                           "different failures)",
    "failed": "the smoke test failed (see its category)",
}

VERSION_KEYS = ("torch", "flash_attn", "python")


@dataclass
class Rejection:
    variant: str
    code: str
    message: str
    files: list[str]
    category: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"variant": self.variant, "code": self.code,
                               "message": self.message, "files": self.files}
        if self.category:
            out["category"] = self.category
        return out


@dataclass
class Contender:
    """A variant whose smoke evidence passed: a candidate for the canonical tag."""

    variant: Variant
    build: BuildRecord
    results: list[SmokeResult]
    stand_in: str | None = None  # why a result from another GPU counts
    notes: list[str] = field(default_factory=list)
    decided_by: tuple[str, str] | None = None  # (key, why) against the next one

    @property
    def id(self) -> str:
        return self.variant.id

    @property
    def evidence(self) -> SmokeResult:
        return self.results[0]

    @property
    def perf(self) -> float | None:
        """The lowest perf figure among agreeing runs (a conservative choice)."""
        figures = [r.perf(self.variant.candidate.strategy) for r in self.results]
        known = [f for f in figures if f is not None]
        return min(known) if known else None

    @property
    def gpus(self) -> list[str]:
        return sorted({f"{r.gpu_name} (cc {r.gpu_cc})" for r in self.results})

    def value(self, key: str) -> Any:
        c = self.variant.candidate
        return {"strategy": c.strategy, "flavour": c.base.flavour, "torch": c.torch,
                "flash_attn": c.flash_attn, "python": c.python, "base": c.base.ref,
                "perf": self.perf}[key]


@dataclass
class Decision:
    matrix: Matrix
    target: Target
    ranking: list[Contender]
    rejected: list[Rejection]
    untested: list[tuple[str, bool]]  # (kept variant without evidence, has a build record)
    notes: list[str]
    inputs: list[str]

    @property
    def winner(self) -> Contender | None:
        return self.ranking[0] if self.ranking else None


# ---------------------------------------------------------------- GPUs


def _tokens(name: str) -> list[str]:
    return re.findall(r"[A-Z0-9]+", name.upper())


def gpu_matches(reported: str, wanted: str) -> bool:
    """Whether a device name ('NVIDIA H100 80GB HBM3') is the GPU `wanted` ('H100').

    Whole words only, so 'L40' does not match an 'L40S' and 'RTX6000-ADA' matches
    'NVIDIA RTX 6000 Ada Generation'.
    """
    tokens = _tokens(reported)
    want = "".join(_tokens(wanted))
    return any("".join(tokens[i:j]) == want for i in range(len(tokens))
               for j in range(i + 1, len(tokens) + 1))


def _device_check(r: SmokeResult, target: Target, stand_ins: tuple[str, ...]
                  ) -> tuple[str, str | None]:
    """('ok' | 'stand-in' | 'device-mismatch', message) for the GPU a result ran on."""
    if r.gpu_cc is None:
        return "ok", None  # a failure before a GPU was seen (e.g. no-gpu)
    gpu = f"{r.gpu_name or 'an unnamed GPU'} (cc {r.gpu_cc})"
    if r.gpu_cc == target.compute_capability:
        if r.gpu_name and not gpu_matches(r.gpu_name, target.gpu):
            return "ok", (f"smoked on {gpu}, the same compute capability as the target's "
                          f"{target.gpu}")
        return "ok", None
    allowed = next((s for s in stand_ins if r.gpu_name and gpu_matches(r.gpu_name, s)), None)
    if allowed:
        # The run proves the image works on the stand-in; the static arch check of the
        # flash-attn binary says whether it has code for the target at all.
        runs = r.target_arch_runs(target.name)
        if runs is False:
            return "device-mismatch", (
                f"smoked on {gpu}, a stand-in allowed by policy.stand_ins.{target.name}, but "
                f"the flash-attn binary has no code for cc {target.compute_capability} "
                f"(archs.targets.{target.name}.runs is false)")
        arch = (f"; its flash-attn binary has code for cc {target.compute_capability}"
                if runs else "")
        return "stand-in", (f"smoked on {gpu}, a stand-in for {target.gpu} "
                            f"(cc {target.compute_capability}) allowed by "
                            f"policy.stand_ins.{target.name} ({allowed}){arch}")
    return "device-mismatch", (
        f"smoked on {gpu}, but target '{target.name}' is an {target.gpu} "
        f"(cc {target.compute_capability}); name the GPU in policy.stand_ins.{target.name} "
        "to accept it as a stand-in")


# ---------------------------------------------------------------- judging


def judge(plan: Plan, target: Target, inputs: Inputs) -> Decision:
    """Check every result, group per variant, and rank what passed."""
    check_policy(plan.matrix)
    stand_ins = plan.matrix.policy.stand_ins.get(target.name, ())
    builds, conflicts = _builds(inputs.builds)
    rejected = [Rejection(vid, "build-conflict", "build metadata disagree on the digest: "
                          + ", ".join(sorted({b.digest for b in records})),
                          sorted(b.file for b in records))
                for vid, records in sorted(conflicts.items())
                if (v := plan.get(vid)) and v.kept and v.candidate.target.name == target.name]
    valid: dict[str, list[tuple[SmokeResult, str, str | None]]] = {}
    for r in sorted(inputs.smoke, key=lambda r: (r.variant or "", r.file)):
        verdict, message = _screen(r, plan, target, builds, conflicts, stand_ins)
        if verdict in ("ok", "stand-in"):
            valid.setdefault(r.variant or "", []).append((r, verdict, message))
        elif verdict != "skip":
            rejected.append(Rejection(r.variant or "(none)", verdict, message or "", [r.file]))
    contenders: list[Contender] = []
    for vid, entries in sorted(valid.items()):
        variant = plan.get(vid)
        assert variant is not None  # _screen let only kept variants through
        contender, rejections = _settle(variant, builds[vid], entries)
        rejected += rejections
        if contender:
            contenders.append(contender)
    ranking = rank(contenders, plan.matrix)
    seen = {c.id for c in ranking} | {x.variant for x in rejected} | set(conflicts)
    untested = [(v.id, v.id in builds) for v in plan.kept
                if v.candidate.target.name == target.name and v.id not in seen]
    rejected.sort(key=lambda x: (x.variant, x.code, x.files))
    return Decision(plan.matrix, target, ranking, rejected, untested,
                    _decision_notes(ranking), inputs.files)


def _screen(r: SmokeResult, plan: Plan, target: Target, builds: dict[str, BuildRecord],
            conflicts: dict[str, list[BuildRecord]], stand_ins: tuple[str, ...]
            ) -> tuple[str, str | None]:
    """('ok' | 'stand-in' | 'skip' | a rejection code, message) for one result."""
    if r.variant is None:
        return "not-in-plan", ("the result names no variant (the smoke script ran without "
                               "the variant's metadata)")
    v = plan.get(r.variant)
    if v is None:
        ids = [x.id for x in plan.variants]
        return "not-in-plan", (f"no variant '{r.variant}' in the current plan"
                               f"{did_you_mean(r.variant, ids)}")
    if not v.kept:
        return "not-in-plan", (f"the current plan prunes this variant "
                               f"({', '.join(x.code for x in v.reasons)}); see "
                               f"`gen explain {v.id}`")
    if v.candidate.target.name != target.name:
        return "other-target", (f"a variant of target '{v.candidate.target.name}', "
                                f"not '{target.name}'")
    build = builds.get(r.variant)
    if build is None and r.variant in conflicts:
        return "skip", None  # rejected as a whole: its build records disagree
    if build is None:
        return "no-build", ("no build metadata (gen-build/1) among the inputs records the "
                            "digest of this variant's image")
    if r.digest is None:
        return "digest-mismatch", ("the result records no image digest (GEN_IMAGE_DIGEST "
                                   f"unset), so it cannot be tied to the built image "
                                   f"{build.image}")
    if r.digest != build.digest:
        return "digest-mismatch", (f"smoked image {r.digest[:19]}… is not the built image "
                                   f"{build.image}@{build.digest[:19]}… ({build.file})")
    return _device_check(r, target, stand_ins)


def _settle(v: Variant, build: BuildRecord, entries: list[tuple[SmokeResult, str, str | None]]
            ) -> tuple[Contender | None, list[Rejection]]:
    """One variant's valid results: a contender when they agree on a pass."""
    rejected = []
    if any(verdict == "ok" for _, verdict, _ in entries):
        rejected = [Rejection(v.id, "superseded", f"{message}; results from the target's own "
                              "GPU are used instead", [r.file])
                    for r, verdict, message in entries if verdict == "stand-in"]
        entries = [e for e in entries if e[1] == "ok"]
    files = [r.file for r, _, _ in entries]
    if len({r.outcome() for r, _, _ in entries}) > 1:
        detail = "; ".join(f"{r.file}: {r.outcome()}" for r, _, _ in entries)
        return None, [*rejected, Rejection(v.id, "conflicting-results", f"{len(entries)} "
                                           f"results disagree ({detail})", files)]
    first = entries[0][0]
    if not first.passed:
        category = first.category or "error"
        message = first.message or "no message"
        if not message.startswith(category):
            message = f"{category}: {message}"
        return None, [*rejected, Rejection(v.id, "failed", message, files, category)]
    notes = sorted({m for _, verdict, m in entries if m and verdict == "ok"})
    if len(entries) > 1:
        notes.append(f"{len(entries)} agreeing results; ranked on the lowest perf figure")
    stand_in = next((m for _, verdict, m in entries if verdict == "stand-in"), None)
    return Contender(v, build, [r for r, _, _ in entries], stand_in, notes), rejected


def _builds(records: list[BuildRecord]
            ) -> tuple[dict[str, BuildRecord], dict[str, list[BuildRecord]]]:
    """Build records per variant, and the variants whose records disagree on the digest."""
    by_variant: dict[str, list[BuildRecord]] = {}
    for b in sorted(records, key=lambda b: (b.variant, b.file)):
        by_variant.setdefault(b.variant, []).append(b)
    ok = {vid: bs[0] for vid, bs in by_variant.items() if len({b.digest for b in bs}) == 1}
    conflicts = {vid: bs for vid, bs in by_variant.items() if vid not in ok}
    return ok, conflicts


def _decision_notes(ranking: list[Contender]) -> list[str]:
    notes = [f"{c.id}: {c.stand_in}" for c in ranking if c.stand_in]
    gpus = {g for c in ranking for g in c.gpus}
    if len(gpus) > 1:
        notes.append("perf figures come from different GPUs (" + ", ".join(sorted(gpus))
                     + "); the perf key compares them as they are")
    return notes


# ---------------------------------------------------------------- ranking


def check_policy(matrix: Matrix) -> None:
    """Refuse preferences that cannot rank (e.g. 'strategy: newest', 'perf: [..]')."""
    for i, (key, how) in enumerate(matrix.policy.prefer):
        where = {"file": matrix.path, "key": f"policy.prefer[{i}].{key}"}
        if key == "perf" and how != "fastest":
            raise UserError("perf ranks only as 'fastest'", **where)
        if key != "perf" and how == "fastest":
            raise UserError("'fastest' applies only to perf", **where)
        if key not in VERSION_KEYS and how in ("newest", "oldest"):
            raise UserError(f"{key} values are not versions: list them best first instead "
                            f"of '{how}'", **where)


def _positions(key: str, how: tuple[str, ...] | str, values: list[Any]) -> dict[Any, int]:
    """Value -> position (0 is best) under one preference."""
    if isinstance(how, tuple):
        def index(value: Any) -> int:
            return next((i for i, pat in enumerate(how)
                         if value is not None and fnmatch.fnmatchcase(str(value), pat)),
                        len(how))
        return {value: index(value) for value in values}
    known = sorted({v for v in values if v is not None}, key=_sort_value(key),
                   reverse=how in ("newest", "fastest"))
    out = {value: i for i, value in enumerate(known)}
    out[None] = len(known)
    return out


def _sort_value(key: str):  # type: ignore[no-untyped-def]
    if key == "perf":
        return lambda v: v
    return lambda v: knowledge.version(str(v).split("+")[0])


def _perf_value(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def rank(contenders: list[Contender], matrix: Matrix) -> list[Contender]:
    """Order `contenders` best first and record which key decided each consecutive pair."""
    prefer = matrix.policy.prefer

    def value(c: Contender, key: str) -> Any:
        v = c.value(key)
        return _perf_value(v) if key == "perf" else v

    positions = [_positions(key, how, [value(c, key) for c in contenders])
                 for key, how in prefer]

    def sort_key(c: Contender) -> tuple[Any, ...]:
        return (*(pos[value(c, key)] for pos, (key, _) in zip(positions, prefer,
                                                              strict=True)), c.id)

    ranking = sorted(contenders, key=sort_key)
    for a, b in itertools.pairwise(ranking):
        a.decided_by = _why(a, b, prefer, positions, value)
    if ranking:
        ranking[-1].decided_by = None
    return ranking


def _why(a: Contender, b: Contender, prefer: tuple[tuple[str, Any], ...],
         positions: list[dict[Any, int]], value: Any) -> tuple[str, str]:
    for (key, how), pos in zip(prefer, positions, strict=True):
        va, vb = value(a, key), value(b, key)
        if pos[va] == pos[vb]:
            continue
        if isinstance(how, tuple):
            if pos[vb] == len(how):
                return key, f"{key}: {va} is in the policy list, {vb} is not"
            return key, f"{key}: {va} is preferred to {vb}"
        if vb is None:
            return key, f"{key}: {_show(key, va)} against none"
        if key == "perf":
            return key, f"perf: {va:.1f} > {vb:.1f} TFLOP/s"
        word = "newer" if how == "newest" else "older"
        return key, f"{key}: {va} is {word} than {vb}"
    return "id", "tie on every policy key; ordered by variant id"


def _show(key: str, value: Any) -> str:
    return f"{value:.1f} TFLOP/s" if key == "perf" and value is not None else str(value)
