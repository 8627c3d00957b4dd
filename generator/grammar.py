"""Grammars for every string that comes from matrix.yaml.

Each value that reaches a template, a shell line or a workflow file must match one of
these, so a newline, a quote, `$`, `${{` or a space can never get through. They follow
the OCI distribution spec (repository names, tags) and PEP 440 (versions), narrowed.
"""

from __future__ import annotations

import re

NAME = r"^[a-z0-9][a-z0-9-]{0,31}$"
GPU = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
LABEL = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = rf"^(?:[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*$"
TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
VERSION = r"^[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?$"
TORCH = r"^[0-9]+(?:\.[0-9]+)*(?:\+cu[0-9]{3})?$"
PYTHON = r"^3\.[0-9]{1,2}$"
CC = r"^[0-9]{1,2}\.[0-9]$"
URL = r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~/%+-]*$"
GLOB = r"^[A-Za-z0-9_.:/*?+-]{1,200}$"
TEXT = r"^[A-Za-z0-9 _.,:;()/+-]{0,200}$"

_compiled: dict[str, re.Pattern[str]] = {}


def matches(pattern: str, value: str) -> bool:
    compiled = _compiled.get(pattern)
    if compiled is None:
        compiled = _compiled[pattern] = re.compile(pattern)
    # fullmatch: `$` alone would accept a trailing newline
    return compiled.fullmatch(value) is not None


def split_image(image: str) -> tuple[str | None, str]:
    """'ghcr.io/a/b' -> ('ghcr.io', 'a/b'); 'pytorch/pytorch' -> (None, 'pytorch/pytorch').

    As in Docker: the first component is a registry host when it has a '.' or ':' or is
    'localhost'.
    """
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, image


def family_key(image: str) -> str:
    """The repository path used to look up a tag grammar; Docker Hub's `library/` dropped."""
    host, path = split_image(image)
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        host = None
    return path.removeprefix("library/") if host is None else path
