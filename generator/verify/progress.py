"""Progress: a one-line bar on a terminal, one plain line per resource otherwise."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

from generator.lock import LockedResource


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None,
                 tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.done = 0
        self.counts: Counter[str] = Counter()

    def update(self, key: str, entry: LockedResource, reused: bool = False) -> None:
        self.done += 1
        self.counts[entry.status] += 1
        if self.tty:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            summary = " ".join(f"{s} {self.counts[s]}" for s in
                               ("verified", "missing", "unverified") if self.counts[s])
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} {summary}\x1b[K")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            detail = entry.digest if entry.status == "verified" else entry.evidence
            self.stream.write(f"[{self.done}/{self.total}] {entry.status:<10} {key}"
                              f"{' (lock)' if reused else ''}: {detail}\n")
        self.stream.flush()
