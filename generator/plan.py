"""Expand matrix.yaml into candidates, judge each one, and name the variants."""

from __future__ import annotations

import fnmatch
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generator import knowledge
from generator.candidate import Candidate
from generator.errors import UserError
from generator.images import ImageFacts, parse_image, parse_ref
from generator.matrix import Exclude, Matrix, Target
from generator.rules import Reason, build_archs, evaluate, wheel_filename, wheel_url


@dataclass
class Variant:
    id: str
    candidate: Candidate
    status: str  # kept | pruned
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # lock keys not proven (lockcheck)

    @property
    def kept(self) -> bool:
        return self.status == "kept"

    @property
    def wheel(self) -> tuple[str, str] | None:
        """(file name, URL) of the flash-attn wheel a `wheel` variant installs."""
        c = self.candidate
        if c.strategy != "wheel" or not c.flash_attn:
            return None
        if c.wheel_url:
            return c.wheel_url.rsplit("/", 1)[-1], c.wheel_url
        name = wheel_filename(c.flash_attn, c.torch, c.torch_cuda, bool(c.cxx11_abi), c.python)
        return (name, wheel_url(c.flash_attn, name)) if name else None

    @property
    def builder(self) -> ImageFacts | None:
        """The -devel image a `source` variant compiles in."""
        c = self.candidate
        return c.base.with_flavour("devel") if c.strategy == "source" else None

    def resources(self) -> list[dict[str, str]]:
        """External things this variant needs; `gen verify` proves each one exists."""
        c = self.candidate
        fa = knowledge.flash_attn_table()
        out = [{"kind": "image", "ref": c.base.ref}]
        if self.builder and self.builder.ref != c.base.ref:
            out.append({"kind": "image", "ref": self.builder.ref})
        if not c.base.torch:
            out.append({"kind": "torch-wheel", "project": "torch", "version": c.torch,
                        "index": knowledge.torch_table().index_url.format(
                            cuda_tag=c.torch_cuda_tag), "python": c.python_tag})
        if self.wheel:
            out.append({"kind": "wheel", "name": self.wheel[0], "url": self.wheel[1],
                        "repo": fa.github_repo, "release": f"v{c.flash_attn}"})
        if c.strategy in ("pypi-sdist", "source"):
            out.append({"kind": "sdist", "project": fa.pypi_project, "version": c.flash_attn})
        return out

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "reasons": [r.as_dict() for r in self.reasons],
            "notes": list(self.notes),
            "unverified": list(self.unverified),
            "target": c.target.name,
            "gpu": c.target.gpu,
            "compute_capability": c.target.compute_capability,
            "base": c.base.ref,
            "flavour": c.base.flavour,
            "os": c.base.os,
            "torch": c.torch,
            "torch_cuda_tag": c.torch_cuda_tag,
            "cuda": c.torch_cuda,
            "base_cuda": c.base.cuda,
            "python": c.python,
            "cxx11_abi": c.cxx11_abi,
            "torch_preinstalled": c.base.torch is not None,
            "flash_attn": c.flash_attn,
            "strategy": c.strategy,
            "origin": c.origin,
        }
        if self.wheel:
            out["wheel"] = {"name": self.wheel[0], "url": self.wheel[1]}
        if self.builder:
            out["builder"] = self.builder.ref
        if c.strategy in ("pypi-sdist", "source"):
            out["cuda_archs"] = ";".join(map(str, build_archs(c.target.compute_capability)))
        out["resources"] = self.resources()
        return out


@dataclass
class Plan:
    matrix: Matrix
    variants: list[Variant]

    @property
    def kept(self) -> list[Variant]:
        return [v for v in self.variants if v.kept]

    def get(self, variant_id: str) -> Variant | None:
        return next((v for v in self.variants if v.id == variant_id), None)

    def as_dict(self) -> dict[str, Any]:
        counts = Counter(v.status for v in self.variants)
        return {
            "schema_version": 1,
            "matrix": self.matrix.path,
            "summary": {"total": len(self.variants), "kept": counts["kept"],
                        "pruned": counts["pruned"]},
            "variants": [v.as_dict() for v in self.variants],
        }


# ---------------------------------------------------------------- expansion


def _torch_builds(base: ImageFacts, torch_spec: str) -> tuple[str, str] | None:
    """(torch version, build tag) to install on a base without torch.

    An explicit `2.7.1+cu126` wins; otherwise the build whose CUDA equals the image's,
    else the newest build of the same CUDA major not newer than the image's.
    """
    version, _, local = torch_spec.partition("+")
    if local:
        return version, local
    want = base.cuda_minor
    entry = knowledge.torch_table().minor(version)
    if entry is None:
        return version, knowledge.cuda_tag(want)
    exact = knowledge.cuda_tag(want)
    if exact in entry.cuda:
        return version, exact
    major, minor = (int(x) for x in want.split("."))
    older = [t for t in entry.cuda if knowledge.cuda_of_tag(t).split(".")[0] == str(major)
             and int(knowledge.cuda_of_tag(t).split(".")[1]) <= minor]
    return version, (older[-1] if older else exact)


def _environments(base: ImageFacts, torch_axis: tuple[str, ...],
                  pythons: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(torch, build tag, python) triples a base offers."""
    if base.torch:
        return [(base.torch, knowledge.cuda_tag(base.cuda), base.python or "3.11")]
    out = []
    for spec in torch_axis:
        torch, tag = _torch_builds(base, spec)
        for python in pythons or ((base.python,) if base.python else ()):
            out.append((torch, tag, python))
    return out


def expand(matrix: Matrix, target: Target | None = None) -> list[Candidate]:
    targets = (target,) if target else matrix.targets
    candidates: list[Candidate] = []
    for base_spec in matrix.bases:
        for tag in base_spec.tags:
            base = parse_image(base_spec.image, tag)
            assert base is not None  # matrix.py checked the grammar
            for torch, build, python in _environments(base, matrix.torch, base_spec.python):
                for tgt in targets:
                    for strategy in matrix.strategies:
                        versions = (None,) if strategy == "none" else matrix.flash_attn
                        for fa in versions:
                            candidates.append(Candidate(tgt, base, torch, build, python, fa,
                                                        strategy))
    for inc in matrix.include:
        candidates.extend(_included(matrix, inc, targets))
    return candidates


def _included(matrix: Matrix, inc: Any, targets: tuple[Target, ...]) -> list[Candidate]:
    base = parse_ref(inc.base)
    assert base is not None
    where = {"file": matrix.path, "line": inc.line}
    if inc.target and inc.target not in {t.name for t in matrix.targets}:
        raise UserError(f"include names unknown target '{inc.target}'", key="include", **where)
    if base.torch:
        torch, build, python = base.torch, knowledge.cuda_tag(base.cuda), base.python or "3.11"
    else:
        if not inc.torch:
            raise UserError(f"{base.image} has no torch: the include needs 'torch'",
                            key="include", **where)
        torch, build = _torch_builds(base, inc.torch)
        python = inc.python or base.python
        if not python:
            raise UserError("the include needs 'python'", key="include", **where)
    return [Candidate(t, base, torch, build, python, inc.flash_attn if inc.strategy != "none"
                      else None, inc.strategy, inc.wheel_url, "include")
            for t in targets if inc.target in (None, t.name)]


# ---------------------------------------------------------------- naming


def _base_slug(base: ImageFacts) -> str:
    if base.torch:
        return f"{base.family.rsplit('/', 1)[-1]}-{base.flavour}"
    cudnn = "" if base.cudnn is None else f"-cudnn{base.cudnn}"
    return f"cuda{base.cuda}{cudnn}-{base.flavour}-{base.os}"


def variant_id(c: Candidate) -> str:
    """A stable name usable as a directory and an image tag, e.g.
    wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-l40."""
    fa = f"-fa{c.flash_attn}" if c.flash_attn else ""
    py = c.python.replace(".", "")
    return (f"{c.strategy}{fa}-pt{c.torch}-{c.torch_cuda_tag}-py{py}-"
            f"{_base_slug(c.base)}-{c.target.name}")


def _unique_ids(candidates: list[Candidate]) -> list[str]:
    ids = [variant_id(c) for c in candidates]
    counts = Counter(ids)
    out = []
    for vid, c in zip(ids, candidates, strict=True):
        if counts[vid] > 1:  # same slug from different registries or URLs
            digest = hashlib.sha256(f"{c.base.ref}|{c.wheel_url}".encode()).hexdigest()[:6]
            vid = f"{vid}-{digest}"
        out.append(vid)
    return out


# ---------------------------------------------------------------- judging


def _selector_values(c: Candidate) -> dict[str, str | None]:
    return {"target": c.target.name, "base": c.base.ref, "torch": c.torch,
            "cuda": c.torch_cuda, "python": c.python, "flash_attn": c.flash_attn,
            "strategy": c.strategy, "flavour": c.base.flavour}


def matching_exclude(c: Candidate, rules: tuple[Exclude, ...]) -> Exclude | None:
    values = _selector_values(c)
    for rule in rules:
        if all(values[key] is not None and any(fnmatch.fnmatchcase(values[key], p)
                                               for p in pats)
               for key, pats in rule.selectors.items()):
            return rule
    return None


def _notes(c: Candidate) -> list[str]:
    notes = []
    fa = knowledge.flash_attn_table()
    release = fa.release(c.flash_attn or "")
    if c.base.python_unverified and c.base.torch:
        notes.append(f"Python {c.python} in {c.base.ref} is the image default, not in the "
                     "tag: the Dockerfile asserts it at build time")
    if release and release.unverified:
        notes.append(f"flash-attn {release.version} wheel matrix is unverified: gen verify "
                     "must confirm the asset")
    if c.strategy in ("pypi-sdist", "source"):
        if release is None:
            notes.append(f"flash-attn {c.flash_attn} is not in the knowledge tables; its "
                         "sdist is assumed to build like 2.8.x")
        elif not release.cuda_archs_env:
            notes.append(f"flash-attn {release.version} predates FLASH_ATTN_CUDA_ARCHS: the "
                         "build compiles every default arch (slower)")
    if not c.base.torch and c.torch_cuda != c.base.cuda_minor:
        notes.append(f"torch {c.torch}+{c.torch_cuda_tag} on a CUDA {c.base.cuda} image")
    if c.strategy == "source" and c.base.flavour != "devel":
        builder = c.base.with_flavour("devel")
        notes.append(f"built in {builder.ref if builder else 'a -devel image'}, wheel copied "
                     f"into the -{c.base.flavour} image")
    return notes


def judge(c: Candidate, vid: str, excludes: tuple[Exclude, ...], path: str) -> Variant:
    rule = matching_exclude(c, excludes)
    if rule is not None:
        where = f"{path}:{rule.line}" if rule.line else path
        return Variant(vid, c, "pruned", [Reason(
            "excluded", f"excluded by exclude[{rule.index}] ({where}).")])
    reasons = evaluate(c)
    if reasons:
        return Variant(vid, c, "pruned", reasons)
    return Variant(vid, c, "kept", [], _notes(c))


def build_plan(matrix: Matrix, target_name: str | None = None) -> Plan:
    target = matrix.target(target_name) if target_name else None
    candidates = expand(matrix, target)
    # includes may repeat an expanded candidate: the first (or the one with a URL) wins
    seen: dict[str, int] = {}
    unique: list[Candidate] = []
    for c in candidates:
        key = variant_id(c) + "|" + c.base.ref
        if key in seen:
            if c.wheel_url:
                unique[seen[key]] = c
            continue
        seen[key] = len(unique)
        unique.append(c)
    if not unique:
        raise UserError("the matrix expands to no candidate at all", file=matrix.path, line=1)
    ids = _unique_ids(unique)
    variants = [judge(c, vid, matrix.exclude, matrix.path) for c, vid in zip(unique,
                                                                               ids, strict=True)]
    return Plan(matrix, variants)
