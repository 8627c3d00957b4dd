"""Image tags on any OCI registry: HEAD the manifest, record Docker-Content-Digest."""

from __future__ import annotations

from generator.http import Transient
from generator.lock import LockedResource
from generator.registry import ManifestMissing, RegistryError, parse_image_ref
from generator.verify.context import Context, missing, unverified, verified


async def check_image(ctx: Context, resource: dict[str, str]) -> LockedResource:
    ref = parse_image_ref(resource["ref"])
    registry = ctx.registry
    url = registry.manifest_url(ref)
    try:
        head = await registry.head_manifest(ref.full_name, ref.reference)
    except ManifestMissing as exc:
        return missing("image", str(exc), url, http_status=exc.status)
    except (Transient, RegistryError) as exc:
        return unverified("image", f"{url}: {exc}", url)
    if not head.digest.startswith("sha256:"):
        return unverified("image", f"{url}: unexpected digest {head.digest!r}", url)
    return verified("image", head.digest, url, head.size, media_type=head.media_type,
                    ratelimit_remaining=head.headers.get("ratelimit-remaining"))
