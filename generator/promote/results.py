"""Smoke results and build metadata: find the files, classify them by `schema`, check them.

Every problem with an input file is a UserError naming the file and the key, so a bad
artifact stops `gen promote` before anything is judged or published.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import UserError
from generator.smoke.archs import format_cc

SMOKE_SCHEMA = "gen-smoke/1"
BUILD_SCHEMA = "gen-build/1"
RECORD_SCHEMA = "gen-canonical/1"  # what gen promote writes; skipped when found among inputs
CATEGORIES = ("not-installed", "abi-mismatch", "cuda-runtime-mismatch", "version-mismatch",
              "arch-unsupported", "no-gpu", "oom", "error", "numerics", "perf-floor")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The smoke helper's JSON Schema, when its branch is merged; checked in addition to the
# keys this module reads.
SMOKE_SCHEMA_FILE = Path(__file__).resolve().parent.parent / "smoke" / "smoke.schema.json"


@dataclass(frozen=True)
class SmokeResult:
    file: str
    variant: str | None  # None when the smoke script was not told the variant
    image_ref: str | None
    digest: str | None  # None when it was not told the image digest
    status: str  # pass | fail
    category: str | None
    message: str
    gpu_name: str | None
    gpu_cc: str | None  # normalised 'X.Y'
    perf_flash_attn: float | None  # forward TFLOP/s
    perf_sdpa: float | None
    duration_s: float | None
    data: dict[str, Any] = field(hash=False, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def perf(self, strategy: str) -> float | None:
        """The perf figure ranking uses: flash-attn forward, SDPA for strategy none."""
        if strategy == "none":
            return self.perf_sdpa
        return self.perf_flash_attn

    def target_arch_runs(self, target: str) -> bool | None:
        """The smoke script's static verdict: has the flash-attn binary code for `target`?"""
        entry = ((self.data.get("archs") or {}).get("targets") or {}).get(target)
        runs = entry.get("runs") if isinstance(entry, dict) else None
        return runs if isinstance(runs, bool) else None

    def outcome(self) -> str:
        """'pass' or 'fail:<category>': what duplicates must agree on."""
        return "pass" if self.passed else f"fail:{self.category or 'error'}"

    def summary(self) -> dict[str, Any]:
        """The evidence a decision record keeps: the smoke result less its bulk."""
        env = self.data.get("environment") or {}
        archs = self.data.get("archs") or {}
        return {
            "file": self.file,
            "status": self.status,
            "category": self.category,
            "message": self.message,
            "image": {"ref": self.image_ref, "digest": self.digest},
            "environment": {k: env.get(k) for k in ("torch", "torch_cuda", "cxx11_abi",
                                                     "python", "driver", "gpu", "flash_attn")
                            if k in env},
            "archs": {k: archs.get(k) for k in ("sass", "ptx", "runs_on_current")
                      if k in archs},
            "numerics": self.data.get("numerics"),
            "perf": self.data.get("perf"),
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class BuildRecord:
    file: str
    variant: str
    image: str  # REPO:TAG
    digest: str

    @property
    def repository(self) -> str:
        return split_ref(self.image)[0]


@dataclass
class Inputs:
    smoke: list[SmokeResult]
    builds: list[BuildRecord]
    files: list[str]


def split_ref(ref: str) -> tuple[str, str | None]:
    """'host:5000/a/b:tag' -> ('host:5000/a/b', 'tag'); a digest suffix is dropped."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, None


def find_files(paths: list[str]) -> list[str]:
    """Every file named, and every *.json under each directory named, in a stable order."""
    out: list[str] = []
    seen: set[Path] = set()
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if p.is_file())
            if not found:
                raise UserError("no *.json file in this directory", file=name)
        elif path.is_file():
            found = [path]
        else:
            raise UserError("no such file or directory", file=name)
        for item in found:
            real = item.resolve()
            if real not in seen:
                seen.add(real)
                out.append(os.fspath(item))
    return out


def load_inputs(paths: list[str]) -> Inputs:
    """Load and check every smoke result and build record under `paths`."""
    files = find_files(paths)
    smoke: list[SmokeResult] = []
    builds: list[BuildRecord] = []
    skipped: list[str] = []
    for name in files:
        data = _read_json(name)
        kind = data.get("schema")
        if kind == SMOKE_SCHEMA:
            smoke.append(parse_smoke(data, name))
        elif kind == BUILD_SCHEMA:
            builds.append(parse_build(data, name))
        elif kind == RECORD_SCHEMA:
            skipped.append(name)  # a decision record of an earlier run: output, not evidence
        elif isinstance(kind, str) and kind.startswith(("gen-smoke/", "gen-build/")):
            raise UserError(f"unsupported schema '{kind}' (this gen reads {SMOKE_SCHEMA} "
                            f"and {BUILD_SCHEMA})", file=name, key="schema")
        else:
            what = "no 'schema' key" if kind is None else f"schema {kind!r}"
            raise UserError(f"not a gen smoke result or build record ({what}; expected "
                            f"{SMOKE_SCHEMA} or {BUILD_SCHEMA})", file=name)
    return Inputs(smoke, builds, [f for f in files if f not in skipped])


def _read_json(name: str) -> dict[str, Any]:
    try:
        with open(name, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON: {exc.msg} (column {exc.colno})", file=name,
                        line=exc.lineno) from None
    except UnicodeDecodeError:
        raise UserError("not valid JSON: the file is not UTF-8 text", file=name) from None
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if not isinstance(data, dict):
        raise UserError("not a gen smoke result or build record (the JSON is not an "
                        "object)", file=name)
    return data


# ---------------------------------------------------------------- field access


_MISSING = object()


def _get(data: dict[str, Any], key: str, name: str, types: tuple[type, ...],
         required: bool = True) -> Any:
    """The value at dotted `key`, of one of `types` (None allowed when not required)."""
    value: Any = data
    for part in key.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING or value is None:
            if required:
                raise UserError("missing required key", file=name, key=key)
            return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        want = " or ".join({str: "a string", float: "a number", int: "a number",
                            dict: "an object", list: "a list", bool: "true/false"}[t]
                           for t in types)
        raise UserError(f"expected {want}, got {_show(value)}", file=name, key=key)
    return value


def _digest(data: dict[str, Any], key: str, name: str) -> str:
    value = _get(data, key, name, (str,))
    if not DIGEST.match(value):
        raise UserError(f"'{value[:80]}' is not an image digest (sha256:<64 hex digits>)",
                        file=name, key=key)
    return value


def _cc(data: dict[str, Any], key: str, name: str, required: bool) -> str | None:
    value = _get(data, key, name, (str, float, int, list), required)
    if value is None:
        return None
    try:
        if isinstance(value, list):
            major, minor = (int(x) for x in value)
            return f"{major}.{minor}"
        return format_cc(str(value))
    except (TypeError, ValueError):
        raise UserError(f"'{value}' is not a compute capability such as '8.9'", file=name,
                        key=key) from None


def _number(data: dict[str, Any], key: str, name: str) -> float | None:
    value = _get(data, key, name, (float, int), required=False)
    return None if value is None else float(value)


def parse_smoke(data: dict[str, Any], name: str) -> SmokeResult:
    status = _get(data, "status", name, (str,))
    if status not in ("pass", "fail"):
        raise UserError(f"status '{status}' is not pass or fail", file=name, key="status")
    category = _get(data, "category", name, (str,), required=False)
    if category is not None and category not in CATEGORIES:
        raise UserError(f"unknown category '{category}' (known: {', '.join(CATEGORIES)})",
                        file=name, key="category")
    if status == "pass" and category is not None:
        raise UserError("a passing result has a failure category", file=name, key="category")
    passed = status == "pass"
    digest = _get(data, "image.digest", name, (str,), required=False)
    result = SmokeResult(
        file=name,
        variant=_get(data, "variant", name, (str,), required=False),
        image_ref=_get(data, "image.ref", name, (str,), required=False),
        digest=None if digest is None else _digest(data, "image.digest", name),
        status=status,
        category=category if not passed else None,
        message=_get(data, "message", name, (str,), required=False) or "",
        gpu_name=_get(data, "environment.gpu.name", name, (str,), required=passed),
        gpu_cc=_cc(data, "environment.gpu.compute_capability", name, required=passed),
        perf_flash_attn=_number(data, "perf.flash_attn.fwd_tflops", name),
        perf_sdpa=_number(data, "perf.sdpa.fwd_tflops", name),
        duration_s=_number(data, "duration_s", name),
        data=data,
    )
    _check_schema_file(data, name)  # after the keys read here, which get clearer messages
    return result


def parse_build(data: dict[str, Any], name: str) -> BuildRecord:
    image = _get(data, "image", name, (str,))
    if split_ref(image)[1] is None:
        raise UserError(f"'{image}' is not REPOSITORY:TAG", file=name, key="image")
    return BuildRecord(name, _get(data, "variant", name, (str,)), image,
                       _digest(data, "digest", name))


# ---------------------------------------------------------------- JSON Schema (subset)


@functools.cache
def _smoke_schema() -> dict[str, Any] | None:
    if not SMOKE_SCHEMA_FILE.is_file():
        return None
    return json.loads(SMOKE_SCHEMA_FILE.read_text(encoding="utf-8"))


def _check_schema_file(data: dict[str, Any], name: str) -> None:
    schema = _smoke_schema()
    if schema is None:
        return
    problem = schema_problem(schema, data)
    if problem:
        key, message = problem
        raise UserError(f"does not match the smoke schema: {message}", file=name,
                        key=key or None)


def _show(value: Any) -> str:
    """A short description of a JSON value for a message (cheap: no dump of big trees)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)[:40]


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def _closest(problems: list[tuple[str, str] | None]) -> tuple[str, str]:
    """Of the alternatives' problems, the one that got deepest into the value."""
    return max((p for p in problems if p), key=lambda p: len(p[0]))


def schema_problem(schema: dict[str, Any], value: Any, path: str = "",
                   root: dict[str, Any] | None = None) -> tuple[str, str] | None:
    """The first (key, message) where `value` breaks `schema`, or None.

    A subset of JSON Schema (what smoke.schema.json uses): $ref within the document, type,
    const, enum, pattern, minimum, exclusiveMinimum, maximum, minItems, maxItems,
    properties, required, additionalProperties, items, allOf, anyOf, oneOf, if/then/else.
    """
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return schema_problem(target, value, path, root)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(value, k) for k in kinds):
            return path, f"expected {' or '.join(kinds)}, got {_show(value)}"
    if "const" in schema and value != schema["const"]:
        return path, f"expected {json.dumps(schema['const'])}"
    if "enum" in schema and value not in schema["enum"]:
        return path, f"{_show(value)} is not one of {json.dumps(schema['enum'])}"
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"],
                                                                          value):
        return path, f"{value[:40]!r} does not match {schema['pattern']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return path, f"{value} is below {schema['minimum']}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return path, f"{value} is not above {schema['exclusiveMinimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return path, f"{value} is above {schema['maximum']}"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return path, f"needs at least {schema['minItems']} items"
        if len(value) > schema.get("maxItems", len(value)):
            return path, f"takes at most {schema['maxItems']} items"
    for option in schema.get("allOf", ()):
        problem = schema_problem(option, value, path, root)
        if problem:
            return problem
    if "if" in schema:
        branch = "then" if schema_problem(schema["if"], value, path, root) is None else "else"
        if branch in schema and (problem := schema_problem(schema[branch], value, path, root)):
            return problem
    if schema.get("anyOf"):
        problems = [schema_problem(o, value, path, root) for o in schema["anyOf"]]
        if all(problems):
            return _closest(problems)
    if schema.get("oneOf"):
        problems = [schema_problem(o, value, path, root) for o in schema["oneOf"]]
        if all(problems):
            return _closest(problems)
        if sum(p is None for p in problems) > 1:
            return path, "matches more than one oneOf alternative"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                return path, f"missing required key '{key}'"
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if key in props:
                problem = schema_problem(props[key], item, sub, root)
            elif extra is False:
                problem = (sub, "unknown key")
            elif isinstance(extra, dict):
                problem = schema_problem(extra, item, sub, root)
            else:
                problem = None
            if problem:
                return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problem = schema_problem(schema["items"], item, f"{path}[{i}]", root)
            if problem:
                return problem
    return None
