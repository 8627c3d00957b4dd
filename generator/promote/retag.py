"""Move the canonical tag to the winner's digest through the registry API.

Fetch the manifest by digest, PUT the same bytes under the tag with the same media type,
then read the tag back and check it names exactly that digest. A tag that already points
at the digest is left alone, so re-running a promotion changes nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from generator.promote.record import Publication
from generator.registry import ManifestMissing, Registry, RegistryError, split_name


def credentials_from_env(repository: str, env: Mapping[str, str] | None = None
                         ) -> dict[str, tuple[str, str]]:
    """{registry host: (user, password)} from GEN_REGISTRY_USER / GEN_REGISTRY_PASSWORD."""
    env = os.environ if env is None else env
    user, password = env.get("GEN_REGISTRY_USER"), env.get("GEN_REGISTRY_PASSWORD")
    if not user or not password:
        return {}
    return {split_name(repository)[0]: (user, password)}


async def _current(registry: Registry, repository: str, tag: str) -> str | None:
    try:
        return (await registry.get_manifest(repository, tag))[2]
    except ManifestMissing:
        return None


async def retag_async(registry: Registry, repository: str, digest: str,
                      tag: str) -> Publication:
    previous = await _current(registry, repository, tag)
    if previous == digest:
        return Publication(repository, tag, digest, "unchanged", previous)
    try:
        body, media_type, fetched = await registry.get_manifest(repository, digest)
    except ManifestMissing as exc:
        raise RegistryError(f"{repository} has no manifest {digest} (was the winner pushed "
                            f"to another repository?): {exc}") from None
    if fetched != digest:
        raise RegistryError(f"{repository}@{digest} answered a manifest of digest {fetched}")
    stored = await registry.put_manifest(repository, tag, body, media_type)
    if stored != digest:
        raise RegistryError(f"PUT {repository}:{tag} stored {stored}, not {digest}")
    now = await _current(registry, repository, tag)
    if now != digest:
        raise RegistryError(f"read back, {repository}:{tag} names {now}, not {digest}")
    return Publication(repository, tag, digest, "moved" if previous else "created", previous)


def retag(repository: str, digest: str, tag: str,
          credentials: Mapping[str, tuple[str, str]] | None = None) -> Publication:
    """Point `repository:tag` at `digest` (blocking); raises RegistryError or Transient."""
    async def run() -> Publication:
        async with Registry(credentials=credentials) as registry:
            return await retag_async(registry, repository, digest, tag)
    return asyncio.run(run())
