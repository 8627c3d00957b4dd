"""matrix.yaml: load, validate against the schema, check meaning, return a typed model."""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import NamedTuple

from packaging.version import InvalidVersion

from generator import knowledge
from generator.errors import UserError, did_you_mean
from generator.grammar import family_key
from generator.schema import PREFERENCE_KEYS, validate
from generator.yamlsrc import Located, load_yaml

DEFAULT_PREFERENCES: tuple[tuple[str, tuple[str, ...] | str], ...] = (
    ("strategy", ("wheel", "pypi-sdist", "source", "none")),
    ("flavour", ("runtime", "devel", "base")),
    ("torch", "newest"),
    ("perf", "fastest"),
)


class Target(NamedTuple):
    name: str
    gpu: str
    compute_capability: str
    runs_on: tuple[str, ...]
    perf_floor_tflops: int | None = None


class BaseSpec(NamedTuple):
    image: str
    tags: tuple[str, ...]
    python: tuple[str, ...] = ()
    line: int | None = None


class Include(NamedTuple):
    base: str
    strategy: str
    target: str | None = None
    torch: str | None = None
    python: str | None = None
    flash_attn: str | None = None
    wheel_url: str | None = None
    line: int | None = None


class Exclude(NamedTuple):
    selectors: dict[str, tuple[str, ...]]
    line: int | None = None
    position: int = 0  # index in the exclude list


class Policy(NamedTuple):
    prefer: tuple[tuple[str, tuple[str, ...] | str], ...] = DEFAULT_PREFERENCES
    stand_ins: MappingProxyType[str, tuple[str, ...]] | dict[str, tuple[str, ...]] = (
        MappingProxyType({}))


class Matrix(NamedTuple):
    path: str
    targets: tuple[Target, ...]
    bases: tuple[BaseSpec, ...]
    torch: tuple[str, ...]
    flash_attn: tuple[str, ...]
    strategies: tuple[str, ...]
    include: tuple[Include, ...]
    exclude: tuple[Exclude, ...]
    policy: Policy
    max_jobs: int = 4
    nvcc_threads: int = 2

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        names = [t.name for t in self.targets]
        raise UserError(f"no target '{name}'{did_you_mean(name, names)}; "
                        f"the matrix has: {', '.join(names)}", file=self.path, key="targets")


def load_matrix(path: str | os.PathLike[str]) -> Matrix:
    """Read and check a matrix file; any problem is a UserError naming file:line and key."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise UserError("matrix file not found (use --matrix PATH)", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read matrix file: {exc}", file=name) from None
    return parse_matrix(text, name)


def parse_matrix(text: str, name: str = "matrix.yaml") -> Matrix:
    doc = load_yaml(text, name)
    if not isinstance(doc.data, dict):
        raise UserError("the matrix must be a mapping with targets, bases, flash_attn and "
                        "strategies", file=name, line=1)
    data = validate(doc)
    return Matrix(
        path=name,
        targets=tuple(_target(doc, i, t) for i, t in enumerate(data["targets"])),
        bases=_bases(doc, data["bases"]),
        torch=tuple(_torch_version(doc, ("torch", i), v)
                    for i, v in enumerate(data.get("torch", ()))),
        flash_attn=tuple(_version(doc, ("flash_attn", i), v)
                         for i, v in enumerate(data["flash_attn"])),
        strategies=tuple(data["strategies"]),
        include=tuple(_include(doc, i, e) for i, e in enumerate(data.get("include", ()))),
        exclude=tuple(
            Exclude({k: (v,) if isinstance(v, str) else tuple(v) for k, v in e.items()},
                    doc.line(("exclude", i)), i)
            for i, e in enumerate(data.get("exclude", ()))
        ),
        policy=_policy(doc, data.get("policy")),
        max_jobs=data.get("build", {}).get("max_jobs", 4),
        nvcc_threads=data.get("build", {}).get("nvcc_threads", 2),
    )


def _target(doc: Located, i: int, raw: dict) -> Target:
    table = knowledge.gpu_table()
    gpu = raw["gpu"]
    known = table.get(gpu.upper())
    cc = raw.get("compute_capability") or known
    if cc is None:
        raise doc.error(("targets", i, "gpu"), f"unknown GPU '{gpu}'"
                        f"{did_you_mean(gpu.upper(), table)}; add compute_capability to use it")
    if known and raw.get("compute_capability") and known != raw["compute_capability"]:
        raise doc.error(("targets", i, "compute_capability"),
                        f"{gpu} has compute capability {known}, not {raw['compute_capability']}")
    return Target(raw["name"], gpu, cc, tuple(raw["runs_on"]), raw.get("perf_floor_tflops"))


def _bases(doc: Located, raw: list[dict]) -> tuple[BaseSpec, ...]:
    families = knowledge.image_families()
    seen: dict[str, int] = {}
    bases = []
    for i, entry in enumerate(raw):
        family = families.get(family_key(entry["image"]))
        if family is None:
            raise doc.error(("bases", i, "image"),
                            f"no tag grammar is known for '{entry['image']}'"
                            f"{did_you_mean(family_key(entry['image']), families)}; "
                            f"known: {', '.join(families)}")
        if entry["image"] in seen:
            raise doc.error(("bases", i, "image"), f"'{entry['image']}' is listed twice "
                            f"(also bases[{seen[entry['image']]}]); merge the tags")
        seen[entry["image"]] = i
        for j, tag in enumerate(entry["tags"]):
            if not any(g.match(tag) for g in family.grammars):
                raise doc.error(("bases", i, "tags", j),
                                f"tag '{tag}' does not follow the {family.repository} tag "
                                f"grammar (e.g. {family.example})")
        if entry.get("python") and family.torch_preinstalled:
            raise doc.error(("bases", i, "python"), f"{family.repository} images ship their "
                            "own Python; 'python' is only for bases without torch")
        bases.append(BaseSpec(entry["image"], tuple(entry["tags"]), tuple(entry.get("python",
                              ())), doc.line(("bases", i))))
    return tuple(bases)


def _version(doc: Located, path: tuple, value: str) -> str:
    try:
        knowledge.version(value.split("+")[0])
    except InvalidVersion:
        raise doc.error(path, f"'{value}' is not a valid version") from None
    return value


def _torch_version(doc: Located, path: tuple, value: str) -> str:
    return _version(doc, path, value)


def _include(doc: Located, i: int, raw: dict) -> Include:
    image, sep, tag = raw["base"].rpartition(":")
    families = knowledge.image_families()
    family = families.get(family_key(image)) if sep else None
    if family is None or "/" in tag or not any(g.match(tag) for g in family.grammars):
        raise doc.error(("include", i, "base"), f"'{raw['base']}' is not a full reference of "
                        f"a known image family such as pytorch/pytorch:"
                        f"{families['pytorch/pytorch'].example}")
    if raw["strategy"] != "none" and not raw.get("flash_attn"):
        raise doc.error(("include", i), f"strategy '{raw['strategy']}' needs flash_attn")
    if raw.get("wheel_url") and raw["strategy"] != "wheel":
        raise doc.error(("include", i, "wheel_url"), "wheel_url needs strategy 'wheel'")
    for key in ("torch", "flash_attn"):
        if raw.get(key):
            _version(doc, ("include", i, key), raw[key])
    return Include(base=raw["base"], strategy=raw["strategy"], target=raw.get("target"),
                   torch=raw.get("torch"), python=raw.get("python"),
                   flash_attn=raw.get("flash_attn"), wheel_url=raw.get("wheel_url"),
                   line=doc.line(("include", i)))


def _policy(doc: Located, raw: dict | None) -> Policy:
    if not raw:
        return Policy()
    prefer = []
    for entry in raw["prefer"]:
        ((key, value),) = entry.items()
        prefer.append((key, value if isinstance(value, str) else tuple(value)))
    assert all(k in PREFERENCE_KEYS for k, _ in prefer)
    stand_ins = {k: tuple(v) for k, v in raw.get("stand_ins", {}).items()}
    return Policy(tuple(prefer), stand_ins)
