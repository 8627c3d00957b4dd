"""Move the canonical tag to the winner's digest through the registry API.

Fetch the manifest by digest, PUT the same bytes under the tag with the same media type,
then read the tag back and check it names exactly that digest. A tag that already points
at the digest is left alone, so re-running a promotion changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Mapping

from generator.promote.record import Publication
from generator.registry import ManifestMissing, Registry, RegistryError, split_name


def credentials_for(repository: str, env: Mapping[str, str] | None = None
                    ) -> dict[str, tuple[str, str]]:
    """{registry host: (user, password)} for pushing to `repository`.

    GEN_REGISTRY_USER and GEN_REGISTRY_PASSWORD win; else the `auths` entry `docker login`
    (or docker/login-action in CI) wrote to $DOCKER_CONFIG/config.json or
    ~/.docker/config.json. Credential helpers (credsStore) are not consulted.
    """
    env = os.environ if env is None else env
    host = split_name(repository)[0]
    user, password = env.get("GEN_REGISTRY_USER"), env.get("GEN_REGISTRY_PASSWORD")
    if user and password:
        return {host: (user, password)}
    folder = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
            auths = json.load(handle).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    names = {host, f"https://{host}", f"http://{host}"}
    if host == "docker.io":
        names |= {"https://index.docker.io/v1/", "index.docker.io"}
    for name, entry in auths.items():
        if name.rstrip("/") in names or name in names:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (KeyError, TypeError, ValueError):
                continue
            if user and password:
                return {host: (user, password)}
    return {}


def _refused(repository: str, exc: ManifestMissing) -> RegistryError:
    return RegistryError(f"{repository}: access refused (HTTP {exc.status}); give push "
                         "credentials through GEN_REGISTRY_USER/GEN_REGISTRY_PASSWORD or "
                         f"docker login: {exc}")


async def _current(registry: Registry, repository: str, tag: str) -> str | None:
    """The digest `repository:tag` names now, or None when there is no such tag."""
    try:
        return (await registry.get_manifest(repository, tag))[2]
    except ManifestMissing as exc:
        if exc.status != 404:
            raise _refused(repository, exc) from None
        return None


async def retag_async(registry: Registry, repository: str, digest: str,
                      tag: str) -> Publication:
    previous = await _current(registry, repository, tag)
    if previous == digest:
        return Publication(repository, tag, digest, "unchanged", previous)
    try:
        body, media_type, fetched = await registry.get_manifest(repository, digest)
    except ManifestMissing as exc:
        if exc.status != 404:
            raise _refused(repository, exc) from None
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
