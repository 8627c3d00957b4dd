"""The compatibility knowledge, loaded once from the data files in `resources/`.

This module only reads and shapes data; the rules that judge a candidate live in
`rules.py`. Every table keeps the `source` its facts came from.
"""

from __future__ import annotations

import operator
import os
import re
from functools import cache
from typing import Any, NamedTuple

import yaml
from packaging.version import Version

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


RESOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources")


def _load(name: str) -> dict[str, Any]:
    with open(os.path.join(RESOURCES, name), encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)


@cache
def version(text: str) -> Version:
    """Parse a PEP 440 version once (planning calls this for every candidate)."""
    return Version(text)


_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt,
        "<": operator.lt}


@cache
def in_range(text: str, spec: str) -> bool:
    """Whether version `text` satisfies `spec`, a comma-separated AND of clauses such as
    '>=2.6.1,<2.7.0' (operators >=, >, <=, <, ==). Enough for the knowledge tables, and
    much cheaper to import than packaging.specifiers."""
    value = version(text)
    for clause in spec.split(","):
        clause = clause.strip()
        op = clause[:2] if clause[:2] in _OPS else clause[:1]
        if op not in _OPS:
            raise ValueError(f"unsupported version clause {clause!r}")
        if not _OPS[op](value, version(clause[len(op):].strip())):
            return False
    return True


@cache
def minor_of(text: str) -> str:
    """'2.7.1' -> '2.7'."""
    release = version(text).release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def cuda_tag(cuda: str) -> str:
    """'12.6' or '12.6.3' -> 'cu126'."""
    parts = cuda.split(".")
    return f"cu{parts[0]}{parts[1] if len(parts) > 1 else 0}"


def cuda_of_tag(tag: str) -> str:
    """'cu126' -> '12.6' (torch build tags always have one minor digit, cu118 -> 11.8)."""
    digits = tag[2:]
    return f"{digits[:-1]}.{digits[-1]}"


# ---------------------------------------------------------------- torch


class TorchMinor(NamedTuple):
    minor: str
    versions: tuple[str, ...]
    cuda: tuple[str, ...]
    python: tuple[str, ...]
    python_experimental: tuple[str, ...]
    cxx11_abi: dict[str, bool]


class TorchTable(NamedTuple):
    index_url: str
    minors: dict[str, TorchMinor]

    def minor(self, torch_version: str) -> TorchMinor | None:
        return self.minors.get(minor_of(torch_version))

    def known(self, torch_version: str) -> bool:
        entry = self.minor(torch_version)
        return entry is not None and torch_version in entry.versions

    def all_versions(self) -> list[str]:
        return [v for m in self.minors.values() for v in m.versions]


@cache
def torch_table() -> TorchTable:
    data = _load("torch.yaml")
    minors = {
        key: TorchMinor(
            minor=key,
            versions=tuple(entry["versions"]),
            cuda=tuple(entry["cuda"]),
            python=tuple(entry["python"]),
            python_experimental=tuple(entry.get("python_experimental", ())),
            cxx11_abi=dict(entry["cxx11_abi"]),
        )
        for key, entry in data["minors"].items()
    }
    return TorchTable(index_url=data["index_url"], minors=minors)


# ---------------------------------------------------------------- flash-attn


class FlashAttnRelease(NamedTuple):
    version: str
    python: tuple[str, ...]
    torch: tuple[str, ...]
    python_except: frozenset[tuple[str, str]]
    abi: tuple[bool, ...]
    fake_abi_false: tuple[str, ...]
    archs: tuple[int, ...]
    min_nvcc: str
    cuda_archs_env: bool
    unverified: bool
    source: str


class CudaTagRule(NamedTuple):
    releases: str  # a version range, see in_range()
    tags: dict[str, str | None]
    note: str = ""


class FlashAttnTable(NamedTuple):
    github_repo: str
    pypi_project: str
    wheel_name: str
    wheel_url: str
    cuda_tag_rules: tuple[CudaTagRule, ...]
    releases: dict[str, FlashAttnRelease]
    build_env: dict[str, str]
    build_requires: tuple[str, ...]

    def release(self, fa_version: str) -> FlashAttnRelease | None:
        return self.releases.get(fa_version)

    def cuda_rule(self, fa_version: str) -> CudaTagRule:
        for rule in self.cuda_tag_rules:
            if in_range(fa_version, rule.releases):
                return rule
        raise LookupError(f"no CUDA tag rule covers flash-attn {fa_version}")

    def newest_first(self) -> list[FlashAttnRelease]:
        return sorted(self.releases.values(), key=lambda r: version(r.version), reverse=True)


@cache
def flash_attn_table() -> FlashAttnTable:
    data = _load("flash_attn.yaml")
    releases = {
        key: FlashAttnRelease(
            version=key,
            python=tuple(entry["python"]),
            torch=tuple(entry["torch"]),
            python_except=frozenset(tuple(pair) for pair in entry.get("python_except", ())),
            abi=tuple(entry["abi"]),
            fake_abi_false=tuple(entry.get("fake_abi_false", ())),
            archs=tuple(entry["archs"]),
            min_nvcc=entry["min_nvcc"],
            cuda_archs_env=bool(entry.get("cuda_archs_env", False)),
            unverified=bool(entry.get("unverified", False)),
            source=entry["source"],
        )
        for key, entry in data["releases"].items()
    }
    rules = tuple(
        CudaTagRule(r["releases"], dict(r["tags"]), r.get("note", ""))
        for r in data["cuda_tag_rules"]
    )
    return FlashAttnTable(
        github_repo=data["github_repo"],
        pypi_project=data["pypi_project"],
        wheel_name=data["wheel_name"],
        wheel_url=data["wheel_url"],
        cuda_tag_rules=rules,
        releases=releases,
        build_env=dict(data["build_env"]),
        build_requires=tuple(data["build_requires"]),
    )


# ---------------------------------------------------------------- GPUs


@cache
def _gpus() -> dict[str, Any]:
    return _load("gpus.yaml")


def gpu_table() -> dict[str, str]:
    """GPU name (upper case) -> compute capability 'X.Y'."""
    return {name.upper(): cc for name, cc in _gpus()["gpus"].items()}


def fa_generation(name: str) -> dict[str, Any]:
    """Which compute capabilities a flash-attention generation (fa2, fa3, fa4) supports."""
    return _gpus()["generations"][name]


# ---------------------------------------------------------------- base images


class ImageFamily(NamedTuple):
    repository: str
    grammars: tuple[re.Pattern[str], ...]
    torch_preinstalled: bool
    python_rules: tuple[tuple[str, str], ...]  # (torch version range, python)
    python_unverified: bool
    os: str | None
    os_python: dict[str, str]
    example: str = ""


@cache
def image_families() -> dict[str, ImageFamily]:
    families = {}
    for repo, entry in _load("base_images.yaml")["images"].items():
        families[repo] = ImageFamily(
            repository=repo,
            grammars=tuple(re.compile(g) for g in entry["grammars"]),
            torch_preinstalled=bool(entry["torch_preinstalled"]),
            python_rules=tuple(
                (r["torch"], r["python"]) for r in entry.get("python", ())
            ),
            python_unverified=bool(entry.get("python_unverified", False)),
            os=entry.get("os"),
            os_python=dict(entry.get("os_python", {})),
            example=entry.get("example", ""),
        )
    return families
