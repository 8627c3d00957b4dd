"""Load YAML into plain Python values while remembering the line of every key.

`yaml.safe_load` loses positions and silently keeps the last of duplicate keys; this
loader composes the node tree instead, refuses duplicates and records for each path
(a tuple of keys and indexes) the line it came from, so errors can say file:line.
"""

from __future__ import annotations

from typing import Any

import yaml

from generator.errors import UserError

try:  # the C loader is several times faster where libyaml is present
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """('bases', 0, 'tags') -> 'bases[0].tags'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Located:
    """A loaded document plus the source line of each path in it."""

    __slots__ = ("data", "file", "lines")

    def __init__(self, data: Any, file: str, lines: dict[Path, int] | None = None) -> None:
        self.data = data
        self.file = file
        self.lines: dict[Path, int] = lines if lines is not None else {}

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def error(self, path: Path, message: str) -> UserError:
        return UserError(message, file=self.file, line=self.line(path),
                         key=format_path(path) or None)


def load_yaml(text: str, file: str) -> Located:
    """Parse `text`; YAML syntax errors and duplicate keys become UserError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(
            f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None
        ) from None
    located = Located(data=None, file=file)
    located.data = _convert(node, (), located) if node is not None else None
    return located


def _convert(node: yaml.Node, path: Path, located: Located) -> Any:
    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise UserError("mapping keys must be plain strings", file=located.file,
                                line=key_node.start_mark.line + 1, key=format_path(path) or None)
            key = key_node.value
            if key == "<<":
                raise UserError("YAML merge keys ('<<') are not supported", file=located.file,
                                line=key_node.start_mark.line + 1, key=format_path(path) or None)
            if key in result:
                raise UserError(f"duplicate key '{key}'", file=located.file,
                                line=key_node.start_mark.line + 1, key=format_path(path + (key,)))
            located.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, path + (key,), located)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, path + (i,), located) for i, child in enumerate(node.value)]
    return _construct_scalar(node, path, located)


def _construct_scalar(node: yaml.ScalarNode, path: Path, located: Located) -> Any:
    """Nulls and booleans are typed; every other scalar stays the text the user wrote.

    Keeping numbers as text avoids YAML's float trap (`python: 3.10` would load as 3.1);
    the schema validator converts the fields that really are integers.
    """
    tag = node.tag or ""
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return node.value.lower() in ("true", "yes", "on", "y")
    return node.value
