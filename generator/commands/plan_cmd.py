"""`gen plan`: expand matrix.yaml and show every candidate with its verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from generator.rules import REASON_CODES

if TYPE_CHECKING:
    from generator.plan import Plan

_CODES = "\n".join(f"  {code}: {meaning}" for code, meaning in REASON_CODES.items())


@click.command(epilog="\b\nReason codes:\n" + _CODES)
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--target", default=None, help="Only this target (by name).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True)
@click.option("--lock", "lock_path", default=None, type=click.Path(dir_okay=False),
              help="Judge by this lock file (default: matrix.lock.json next to the matrix, "
              "if there is one).")
def plan(matrix_path: str, target: str | None, fmt: str, lock_path: str | None) -> None:
    """Expand the matrix and show every candidate, kept or pruned, with reasons."""
    from generator.errors import UserError
    from generator.matrix import load_matrix
    from generator.plan import build_plan
    from generator.report import FORMATTERS

    matrix = load_matrix(matrix_path)
    result = build_plan(matrix, target)
    _judge_by_lock(result, matrix_path, lock_path)
    click.echo(FORMATTERS[fmt](result), nl=False)
    if not result.kept:
        raise UserError("no candidate is kept: every one was pruned (see the reasons above)",
                        file=matrix.path, line=1)


def _judge_by_lock(result: Plan, matrix_path: str, lock_path: str | None) -> None:
    """Prune variants whose resources the lock says are missing (see generator/lockcheck)."""
    import os

    from generator.errors import UserError
    from generator.lock import LOCK_FILE, load_lock
    from generator.lockcheck import apply_lock

    path = lock_path or os.path.join(os.path.dirname(matrix_path), LOCK_FILE)
    lock = load_lock(path)
    if lock is None:
        if lock_path:
            raise UserError("no such lock file (run gen verify first)", file=lock_path)
        return
    apply_lock(result, lock, allow_unverified=False)
