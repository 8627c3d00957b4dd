"""Plan and render read the lock: a `missing` resource prunes its variant, an `unverified`
(or unlocked) one is recorded on it, and `pins` hands the renderer digests and hashes."""

from __future__ import annotations

from generator.imageref import parse_image_ref
from generator.lock import Lock, LockedResource, resource_key
from generator.plan import Plan, Variant
from generator.rules import Reason

UNVERIFIED_NOTE = "renders only with --allow-unverified"
PIN_KEYS = ("image_digest", "builder_digest", "wheel_sha256", "sdist_sha256", "torch_sha256")


def describe(resource: dict[str, str]) -> str:
    """'image pytorch/pytorch:2.7.1-...', 'wheel <url>', 'sdist flash-attn 2.8.3'..."""
    kind = resource["kind"]
    if kind == "image":
        return f"image {resource['ref']}"
    if kind == "wheel":
        return f"wheel {resource['url']}"
    if kind == "sdist":
        return f"sdist {resource['project']} {resource['version']}"
    return (f"{resource['project']} {resource['version']} wheel for {resource['python']} "
            f"on {resource['index']}")


def nearest_known(resource: dict[str, str], entry: LockedResource, lock: Lock) -> list[str]:
    """Real resources close to a missing one: those its check saw (a release's assets, an
    index's versions), then verified lock entries of the same kind, closest name first."""
    import difflib  # only when a resource is missing

    seen = [str(n) for n in entry.extra.get("nearest", [])]
    kind = resource["kind"]
    key = resource_key(resource)
    verified = [k for k, e in lock.resources.items()
                if e.status == "verified" and e.kind == kind and k != key]
    if kind == "image":
        repo = parse_image_ref(resource["ref"])
        same = [k.removeprefix("image:") for k in verified]
        same = [r for r in same if (p := parse_image_ref(r)).name == repo.name
                and p.registry == repo.registry]
        known = difflib.get_close_matches(resource["ref"], same, n=3, cutoff=0.0)
    else:
        known = [k.split(":", 1)[1] for k in difflib.get_close_matches(key, verified, n=3,
                                                                       cutoff=0.0)]
    return list(dict.fromkeys(seen + [f"{k} (verified)" for k in known]))[:4]


def _missing_reason(resource: dict[str, str], entry: LockedResource, lock: Lock) -> Reason:
    status = entry.extra.get("http_status")
    evidence = entry.evidence or "no evidence recorded"
    message = f"the {describe(resource)} does not exist: {evidence}"
    if status and f"HTTP {status}" not in evidence:
        message += f" (HTTP {status})"
    if entry.url and entry.url not in message:
        message += f" [{entry.url}]"
    message += f"; checked {entry.checked_at}."
    near = nearest_known(resource, entry, lock)
    suggestion = (f"nearest real: {', '.join(near)}" if near
                  else "check the name; `gen verify --refresh` rechecks it")
    return Reason("resource-missing", message, suggestion)


def apply_lock(plan: Plan, lock: Lock | None, allow_unverified: bool) -> None:
    """Judge every kept variant by the lock (None: no lock, nothing is proven).

    A `missing` resource prunes the variant (code resource-missing, with the evidence and
    the nearest real resource known). An `unverified` or unlocked one keeps it, listed in
    `Variant.unverified` (resource keys; the why stays in the lock); without
    `allow_unverified` a note says that it renders only with --allow-unverified. Calling
    it twice changes nothing more."""
    lock = lock or Lock()
    for variant in plan.kept:
        reasons: list[Reason] = []
        unverified: list[str] = []
        for resource in variant.resources():
            key = resource_key(resource)
            entry = lock.resources.get(key)
            if entry is None or entry.status == "unverified":
                unverified.append(key)
            elif entry.status == "missing":
                reasons.append(_missing_reason(resource, entry, lock))
        if reasons:
            variant.status = "pruned"
            variant.reasons = reasons
            continue
        variant.unverified = unverified
        note = (f"{UNVERIFIED_NOTE}: gen verify has not proven {len(unverified)} of its "
                f"resources (the lock says why)")
        if unverified and not allow_unverified and note not in variant.notes:
            variant.notes.append(note)


def pins(variant: Variant, lock: Lock | None) -> dict[str, str | None]:
    """Digests and hashes of a variant's verified resources, None where there is none:
    image_digest / builder_digest ('sha256:...'), wheel/sdist/torch_sha256 (bare hex)."""
    out: dict[str, str | None] = dict.fromkeys(PIN_KEYS)
    if lock is None:
        return out
    base = variant.candidate.base.ref
    builder = variant.builder.ref if variant.builder else None
    for resource in variant.resources():
        entry = lock.get(resource)
        if entry is None or entry.status != "verified" or not entry.sha256:
            continue
        kind = resource["kind"]
        if kind == "image":
            if resource["ref"] == base:
                out["image_digest"] = entry.digest
            if resource["ref"] == builder:
                out["builder_digest"] = entry.digest
        elif kind == "wheel":
            out["wheel_sha256"] = entry.sha256
        elif kind == "sdist":
            out["sdist_sha256"] = entry.sha256
        elif kind == "torch-wheel":
            out["torch_sha256"] = entry.sha256
    return out
