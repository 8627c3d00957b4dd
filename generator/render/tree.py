"""Write rendered files atomically, or compare them with what is on disk.

`gen render` owns the whole output folder (default `generated/`) and one workflow file.
A write builds the new folder beside the old one, then swaps the two with renames and
replaces the workflow file; any failure before the swap leaves the old output untouched,
and a failure during it puts the old folder back. Files of variants that no longer exist
disappear with the old folder.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DIFF_LINES = 12  # per stale file, so --check stays short


@dataclass
class Drift:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # would be created
    extra: list[str] = field(default_factory=list)  # would be removed
    diffs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return bool(self.changed or self.missing or self.extra)

    def report(self) -> str:
        lines = []
        for path in self.missing:
            lines.append(f"missing: {path}")
        for path in self.extra:
            lines.append(f"stale (would be removed): {path}")
        for path in self.changed:
            lines.append(f"stale: {path}")
            diff = self.diffs[path]
            lines += diff[:DIFF_LINES]
            if len(diff) > DIFF_LINES:
                lines.append(f"... ({len(diff) - DIFF_LINES} more diff lines)")
        return "\n".join(lines) + "\n"


def _split(files: dict[str, str], out_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    prefix = out_dir.rstrip("/") + "/"
    inside = {p[len(prefix):]: t for p, t in files.items() if p.startswith(prefix)}
    outside = {p: t for p, t in files.items() if not p.startswith(prefix)}
    return inside, outside


def _existing(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() or p.is_symlink()}


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def check(root: Path, files: dict[str, str], out_dir: str) -> Drift:
    """How the files on disk under `root` differ from `files`; writes nothing."""
    drift = Drift()
    inside, _ = _split(files, out_dir)
    for rel in sorted(_existing(root / out_dir) - set(inside)):
        drift.extra.append(f"{out_dir}/{rel}")
    for path, text in files.items():
        current = _read(root / path)
        if current is None and not (root / path).exists():
            drift.missing.append(path)
        elif current != text:
            drift.changed.append(path)
            drift.diffs[path] = list(difflib.unified_diff(
                (current or "").splitlines(), text.splitlines(), f"a/{path}", f"b/{path}",
                n=1, lineterm=""))
    return drift


def _write_all(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)


def write(root: Path, files: dict[str, str], out_dir: str) -> None:
    """Replace `root/out_dir` and the files outside it with `files`, atomically per step."""
    inside, outside = _split(files, out_dir)
    target = root / out_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{target.name}.*-*"):  # from a killed run
        if leftover.is_dir() and leftover.name.startswith((f".{target.name}.new-",
                                                           f".{target.name}.old-")):
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    pending: list[tuple[Path, Path]] = []  # (temp file, destination) outside out_dir
    old: Path | None = None
    try:
        _write_all(staging, inside)
        for rel, text in outside.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            pending.append((Path(tmp), dest))
        if target.exists():
            old = target.with_name(f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}")
            os.rename(target, old)
        try:
            os.rename(staging, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)
                old = None
            raise
        for tmp, dest in pending:
            os.replace(tmp, dest)
        pending.clear()
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
