"""What the lock file says about a plan, for rendering.

`generator.lockcheck` (written with `gen verify`) owns the rules: `apply_lock` prunes
variants whose resources are missing and records unverified ones in `Variant.unverified`;
`pins` returns the digests and hashes a Dockerfile pins. Until that module is on this
branch, the small fallback below follows the same contract so render works and is tested.
"""

from __future__ import annotations

from generator.lock import Lock, LockedResource, resource_key
from generator.plan import Plan, Variant
from generator.rules import Reason

try:  # pragma: no cover - exercised once lockcheck is merged
    from generator.lockcheck import apply_lock, pins  # type: ignore[import-not-found]
except ImportError:  # TODO(render): drop this fallback once verify's lockcheck is merged

    def apply_lock(plan: Plan, lock: Lock, allow_unverified: bool) -> None:
        for v in plan.variants:
            missing = [(resource_key(res), entry) for res in v.resources()
                       if (entry := lock.get(res)) is not None and entry.status == "missing"]
            if missing and v.kept:
                v.status = "pruned"
                v.reasons = [Reason("resource-missing",
                                    f"gen verify found no {key}"
                                    + (f" ({e.evidence})" if e.evidence else "") + ".",
                                    "run gen plan for alternatives")
                             for key, e in missing]

    def pins(variant: Variant, lock: Lock) -> dict[str, str | None]:
        def verified(res: dict[str, str] | None) -> LockedResource | None:
            entry = lock.get(res) if res else None
            return entry if entry and entry.status == "verified" else None

        by_kind: dict[str, dict[str, str]] = {}
        for res in variant.resources():
            by_kind.setdefault(res["kind"], res)
        c = variant.candidate
        base = verified({"kind": "image", "ref": c.base.ref})
        builder = (verified({"kind": "image", "ref": variant.builder.ref})
                   if variant.builder else None)
        wheel, sdist, torch = (verified(by_kind.get(k)) for k in ("wheel", "sdist",
                                                                  "torch-wheel"))
        return {
            "image_digest": base.digest if base else None,
            "builder_digest": builder.digest if builder else None,
            "wheel_sha256": wheel.sha256 if wheel else None,
            "sdist_sha256": sdist.sha256 if sdist else None,
            "torch_sha256": torch.sha256 if torch else None,
        }


def unverified(variant: Variant, lock: Lock) -> list[str]:
    """Resource keys of `variant` the lock has not proven: `Variant.unverified` as
    lockcheck's apply_lock records it, else worked out from the lock the same way."""
    recorded = getattr(variant, "unverified", None)
    if recorded is not None:
        return list(recorded)
    return [resource_key(res) for res in variant.resources()
            if (entry := lock.get(res)) is None or entry.status == "unverified"]


def torch_wheel_url(variant: Variant, lock: Lock) -> str | None:
    """The exact torch wheel URL the lock verified, for a base without torch."""
    for res in variant.resources():
        if res["kind"] == "torch-wheel":
            entry = lock.get(res)
            if entry and entry.status == "verified" and entry.url and entry.sha256:
                return entry.url
    return None
