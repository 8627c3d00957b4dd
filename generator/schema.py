"""The matrix.yaml model as a JSON Schema, and a validator that speaks file:line.

`MATRIX_SCHEMA` is the one description of the file: `gen schema` prints it for editors,
and `validate()` walks it to check a loaded document (a small subset of JSON Schema:
type, properties, required, additionalProperties, items, enum, pattern, minItems,
uniqueItems, min/maxProperties, anyOf). Semantic checks live in `matrix.py`.
"""

from __future__ import annotations

from typing import Any

from generator import grammar
from generator.errors import did_you_mean
from generator.yamlsrc import Located, Path

STRATEGIES = ("wheel", "pypi-sdist", "source", "none")
FLAVOURS = ("base", "runtime", "devel")
PREFERENCE_KEYS = ("strategy", "flavour", "torch", "flash_attn", "python", "perf", "base")


def _str(pattern: str, description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern, "description": description}


def _list(item: dict[str, Any], description: str, min_items: int = 1) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": min_items, "uniqueItems": True,
            "description": description}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), description: str = "",
         **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False, "description": description, **extra}


def _globs(description: str) -> dict[str, Any]:
    one = _str(grammar.GLOB, description)
    return {"anyOf": [one, _list(one, description)], "description": description}


_TARGET = _obj(
    {
        "name": _str(grammar.NAME, "Short name, used in variant ids (e.g. l40)."),
        "gpu": _str(grammar.GPU, "GPU model, looked up in the GPU table (e.g. L40)."),
        "compute_capability": _str(grammar.CC, "Overrides the GPU table (e.g. '8.9')."),
        "runs_on": _list(_str(grammar.LABEL, "runner label"),
                         "CI runner labels of a machine with this GPU."),
        "perf_floor_tflops": {"type": "integer", "minimum": 0,
                              "description": "Smoke fails below this forward TFLOP/s."},
    },
    ("name", "gpu", "runs_on"),
    "A GPU the images are built for.",
)

_BASE = _obj(
    {
        "image": _str(grammar.IMAGE, "Repository, optionally with a registry host."),
        "tags": _list(_str(grammar.TAG, "image tag"), "Tags to consider."),
        "python": _list(_str(grammar.PYTHON, "Python version"),
                        "Python versions to install (bases without Python only)."),
    },
    ("image", "tags"),
    "A base image repository and the tags to try.",
)

_SELECTOR_PROPS = {
    "target": _globs("Target name(s)."),
    "base": _globs("Base image reference(s) 'repository:tag', globs allowed."),
    "torch": _globs("torch version(s)."),
    "cuda": _globs("CUDA version(s) of torch (e.g. 12.6)."),
    "python": _globs("Python version(s)."),
    "flash_attn": _globs("flash-attn version(s)."),
    "strategy": _globs("Install strategy(ies)."),
    "flavour": _globs("Base flavour(s): runtime, devel, base."),
}

_INCLUDE = _obj(
    {
        "target": _str(grammar.NAME, "Target name; all targets when left out."),
        "base": _str(grammar.GLOB, "Full base image reference 'repository:tag'."),
        "torch": _str(grammar.TORCH, "torch version (bases without torch)."),
        "python": _str(grammar.PYTHON, "Python version (bases without Python)."),
        "flash_attn": _str(grammar.VERSION, "flash-attn version (not for strategy none)."),
        "strategy": {"enum": list(STRATEGIES), "description": "Install strategy."},
        "wheel_url": _str(grammar.URL, "Explicit flash-attn wheel URL (strategy wheel)."),
    },
    ("base", "strategy"),
    "An extra candidate added to the expansion.",
)

_PREFERENCE = {
    "type": "object",
    "properties": {
        key: {"anyOf": [
            {"enum": ["newest", "oldest", "fastest"]},
            _list(_str(grammar.GLOB, "value"), "Values, most preferred first."),
        ]}
        for key in PREFERENCE_KEYS
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "description": "One ranking key: a list of values (best first) or newest/oldest/fastest.",
}

MATRIX_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/gen-project/gen/matrix.schema.json",
    "title": "gen matrix",
    **_obj(
        {
            "schema_version": {"enum": [1], "description": "Format version of this file."},
            "targets": _list(_TARGET, "GPUs to build for."),
            "bases": _list(_BASE, "Candidate base images."),
            "torch": _list(_str(grammar.TORCH, "torch version"),
                           "torch versions for bases that do not ship torch."),
            "flash_attn": _list(_str(grammar.VERSION, "flash-attn version"),
                                "flash-attn 2 releases to try."),
            "strategies": _list({"enum": list(STRATEGIES)}, "Install strategies to try."),
            "include": _list(_INCLUDE, "Extra candidates.", 0),
            "exclude": _list(_obj(_SELECTOR_PROPS, (), "Prune candidates matching all keys.",
                                  minProperties=1), "Exclusion rules.", 0),
            "build": _obj({
                "max_jobs": {"type": "integer", "minimum": 1, "maximum": 64,
                             "description": "MAX_JOBS for source builds."},
                "nvcc_threads": {"type": "integer", "minimum": 1, "maximum": 16,
                                 "description": "NVCC_THREADS for source builds."},
            }, (), "Settings for flash-attn source builds."),
            "policy": _obj({
                "prefer": _list(_PREFERENCE, "Ordered preferences for promotion."),
                "stand_ins": {
                    "type": "object",
                    "additionalProperties": _list(_str(grammar.GPU, "GPU"), "GPU names"),
                    "description": "target name -> GPUs whose smoke results may stand in.",
                },
            }, ("prefer",), "How gen promote ranks passing variants."),
        },
        ("targets", "bases", "flash_attn", "strategies"),
        "Candidate PyTorch + CUDA + flash-attention images for gen.",
    ),
}

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def validate(doc: Located, schema: dict[str, Any] = MATRIX_SCHEMA) -> Any:
    """Check `doc.data` against `schema`; returns the data with integers converted."""
    return _check(doc, schema, doc.data, ())


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return f"'{value}'"


def _check(doc: Located, schema: dict[str, Any], value: Any, path: Path) -> Any:
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _check(doc, option, value, path)
            except Exception as exc:
                errors.append(exc)
        # prefer the error of the option whose type matched
        for option, exc in zip(schema["anyOf"], errors, strict=True):
            if _type_matches(option, value):
                raise exc
        raise errors[0]
    if "enum" in schema:
        if value not in schema["enum"] and str(value) not in map(str, schema["enum"]):
            choices = ", ".join(map(str, schema["enum"]))
            hint = did_you_mean(str(value), map(str, schema["enum"])) if isinstance(
                value, str) else ""
            raise doc.error(path, f"{_describe(value)} is not one of: {choices}{hint}")
        return type(schema["enum"][0])(value) if not isinstance(value, type(
            schema["enum"][0])) else value
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.isdigit())
        ):
            raise doc.error(path, f"expected a whole number, got {_describe(value)}")
        number = int(value)
        if number < schema.get("minimum", number) or number > schema.get("maximum", number):
            raise doc.error(path, f"{number} is out of range "
                            f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
        return number
    if kind and not isinstance(value, _TYPES[kind]):
        noun = {"object": "mapping", "array": "list"}.get(kind, kind)
        raise doc.error(path, f"expected a {noun}, got {_describe(value)}")
    if kind == "string":
        pattern = schema.get("pattern")
        if pattern and not grammar.matches(pattern, value):
            raise doc.error(path, f"{value!r} is not a valid {schema.get('description', 'value')}"
                            f" (allowed: {_pattern_hint(pattern)})")
        return value
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            raise doc.error(path, "must not be empty")
        out = [_check(doc, schema["items"], item, path + (i,)) for i, item in enumerate(value)]
        if schema.get("uniqueItems"):
            seen: dict[str, int] = {}
            for i, item in enumerate(out):
                marker = repr(item)
                if marker in seen:
                    raise doc.error(path + (i,), f"duplicate entry {_describe(item)} "
                                    f"(same as item {seen[marker]})")
                seen[marker] = i
        return out
    if kind == "object":
        return _check_object(doc, schema, value, path)
    return value


def _check_object(doc: Located, schema: dict[str, Any], value: dict[str, Any],
                  path: Path) -> dict[str, Any]:
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out = {}
    for key, item in value.items():
        if key in props:
            out[key] = _check(doc, props[key], item, path + (key,))
        elif isinstance(extra, dict):
            if not grammar.matches(grammar.NAME, key):
                raise doc.error(path + (key,), f"invalid name '{key}'")
            out[key] = _check(doc, extra, item, path + (key,))
        elif extra is False:
            raise doc.error(path + (key,), f"unknown key '{key}'{did_you_mean(key, props)}"
                            f"; allowed: {', '.join(props)}")
    for key in schema.get("required", ()):
        if key not in value:
            raise doc.error(path, f"missing required key '{key}'")
    if len(value) < schema.get("minProperties", 0):
        raise doc.error(path, f"needs at least one of: {', '.join(props)}")
    if len(value) > schema.get("maxProperties", len(value)):
        raise doc.error(path, f"takes exactly one key, got {', '.join(value)}")
    return out


def _type_matches(schema: dict[str, Any], value: Any) -> bool:
    if "enum" in schema:
        return isinstance(value, str)
    kind = schema.get("type")
    return kind is not None and isinstance(value, _TYPES.get(kind, object))


def _pattern_hint(pattern: str) -> str:
    hints = {
        grammar.NAME: "lower-case letters, digits and '-'",
        grammar.GPU: "letters, digits and '-'",
        grammar.LABEL: "letters, digits, '_', '.', '-'",
        grammar.IMAGE: "an OCI repository name such as pytorch/pytorch",
        grammar.TAG: "an OCI tag: letters, digits, '_', '.', '-', at most 128",
        grammar.VERSION: "a PEP 440 release such as 2.8.3 or 2.7.4.post1",
        grammar.TORCH: "a torch version such as 2.7.1 or 2.7.1+cu126",
        grammar.PYTHON: "a Python version such as '3.11' (quote it)",
        grammar.CC: "a compute capability such as '8.9'",
        grammar.URL: "an http(s) URL without quotes, spaces or '$'",
        grammar.GLOB: "letters, digits and . : / * ? + - _",
    }
    return hints.get(pattern, pattern)
