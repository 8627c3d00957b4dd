"""The current plan as `gen plan` shows it: the matrix expanded, judged by the lock if any."""

from __future__ import annotations

import os

from generator.errors import UserError
from generator.lock import LOCK_FILE, Lock, load_lock
from generator.matrix import load_matrix
from generator.plan import Plan, build_plan


def current_plan(matrix_path: str, lock_path: str | None = None
                 ) -> tuple[Plan, Lock | None, str]:
    """(plan, lock, lock path). The lock defaults to matrix.lock.json next to the matrix and
    may be absent then; a `missing` resource in it prunes its variant, as in `gen plan`."""
    plan = build_plan(load_matrix(matrix_path))
    path = lock_path or os.path.join(os.path.dirname(matrix_path), LOCK_FILE)
    lock = load_lock(path)
    if lock is None and lock_path:
        raise UserError("no such lock file (run gen verify first)", file=lock_path)
    if lock is not None:
        from generator.lockcheck import apply_lock  # imports the registry client (httpx)

        apply_lock(plan, lock, allow_unverified=False)
    return plan, lock, path
