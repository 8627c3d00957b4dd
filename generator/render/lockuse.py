"""What the lock file says about a plan, for rendering.

`generator.lockcheck` (written with `gen verify`) owns the rules: `apply_lock` prunes
variants whose resources are missing and records unverified ones in `Variant.unverified`;
`pins` returns the digests and hashes a Dockerfile pins. This module adds the few lookups
only the renderer needs.
"""

from __future__ import annotations

from generator.lock import Lock
from generator.lockcheck import apply_lock, pins
from generator.plan import Variant

__all__ = ["apply_lock", "pins", "torch_wheel_url"]


def torch_wheel_url(variant: Variant, lock: Lock) -> str | None:
    """The exact torch wheel URL the lock verified, for a base without torch."""
    for res in variant.resources():
        if res["kind"] == "torch-wheel":
            entry = lock.get(res)
            if entry and entry.status == "verified" and entry.url and entry.sha256:
                return entry.url
    return None
