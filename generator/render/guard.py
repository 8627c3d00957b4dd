"""The renderer's last line of defence: no string reaching a template may carry shell,
YAML or GitHub-expression syntax.

Matrix values already pass `generator.grammar`; this guard runs again on the finished
context, so a value that slipped in some other way (a knowledge table, a lock file, a
future code path) stops the render with a UserError before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.errors import UserError

FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("${{", "a GitHub expression '${{'"),
    ("\n", "a newline"),
    ("\r", "a carriage return"),
    ("\x00", "a NUL byte"),
    ('"', "a double quote"),
    ("'", "a single quote"),
    ("`", "a backtick"),
    ("$", "a '$'"),
    ("\\", "a backslash"),
)


def problem(value: str) -> str | None:
    """What makes `value` unsafe, or None."""
    for needle, what in FORBIDDEN:
        if needle in value:
            return what
    return None


def check(value: Any, where: str, path: str = "") -> None:
    """Walk dicts, lists and tuples; refuse any unsafe string (keys included)."""
    if isinstance(value, str):
        what = problem(value)
        if what:
            raise UserError(f"refusing to render {path or 'a value'}={value!r}: it contains "
                            f"{what}", key=where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check(key, where, f"{path}.<key>" if path else "<key>")
            check(item, where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check(item, where, f"{path}[{i}]")
    elif value is None or isinstance(value, (bool, int, float)):
        return
    else:
        raise TypeError(f"unexpected {type(value).__name__} in render context at {path}")
