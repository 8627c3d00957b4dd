"""A small OCI distribution (Docker registry v2) client: manifest HEAD, GET and PUT.

Auth follows the registry's own challenge: a 401 with `WWW-Authenticate: Bearer realm=...,
service=...,scope=...` sends us to the realm for an (anonymous unless credentials are given)
token, and the request is repeated with it. Registries on loopback speak plain HTTP; any
registry host can be mapped to another base URL (tests, mirrors) through `mapping` or
`GEN_REGISTRY_MAP="docker.io=http://127.0.0.1:5000,nvcr.io=https://mirror"`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from generator.http import Deadline, RetryPolicy, Transient, make_client, request
from generator.imageref import DOCKER_HUB, ImageRef, parse_image_ref, split_name

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)

DEFAULT_BASES = {DOCKER_HUB: "https://registry-1.docker.io"}
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry answer that is neither the manifest nor a clean 'not found'."""


class ManifestMissing(RegistryError):
    """The registry says the repository or tag does not exist; the text is the evidence."""

    def __init__(self, evidence: str, status: int) -> None:
        super().__init__(evidence)
        self.status = status


def mapping_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Registry host -> base URL overrides from GEN_REGISTRY_MAP (comma-separated a=b)."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in env.get("GEN_REGISTRY_MAP", "").split(","))):
        host, sep, base = item.partition("=")
        if not sep or not base.startswith(("http://", "https://")):
            raise ValueError(f"GEN_REGISTRY_MAP entry {item!r} is not host=http(s)://base")
        out[host.strip()] = base.strip().rstrip("/")
    return out


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer', {'realm': ..., 'service': ..., 'scope': ...}) from WWW-Authenticate."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE.findall(params))


@dataclass
class ManifestHead:
    digest: str
    media_type: str | None
    size: int | None
    headers: dict[str, str] = field(default_factory=dict)


class Registry:
    """Manifest operations on any registry; one instance caches tokens per repository."""

    def __init__(self, client: httpx.AsyncClient | None = None, *,
                 mapping: Mapping[str, str] | None = None,
                 credentials: Mapping[str, tuple[str, str]] | None = None,
                 policy: RetryPolicy | None = None, time_bound: float = 60.0) -> None:
        self._own_client = client is None
        self.client = client or make_client()
        self.mapping = {**DEFAULT_BASES, **mapping_from_env(), **(mapping or {})}
        self.credentials = dict(credentials or {})
        self.policy = policy or RetryPolicy()
        self.time_bound = time_bound
        self._tokens: dict[tuple[str, str], str] = {}

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self) -> Registry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def base_url(self, registry: str) -> str:
        if registry in self.mapping:
            return self.mapping[registry]
        host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
        scheme = "http" if host in _LOOPBACK else "https"
        return f"{scheme}://{registry}"

    def manifest_url(self, ref: ImageRef) -> str:
        return f"{self.base_url(ref.registry)}/v2/{ref.name}/manifests/{ref.reference}"

    # ------------------------------------------------------------ auth

    async def _send(self, method: str, ref: ImageRef, url: str, actions: str,
                    deadline: Deadline, headers: dict[str, str] | None = None,
                    content: bytes | None = None) -> httpx.Response:
        headers = dict(headers or {})
        key = (ref.registry, f"repository:{ref.name}:{actions}")
        if key in self._tokens:
            headers["Authorization"] = self._tokens[key]
        response = await request(self.client, method, url, deadline=deadline,
                                 policy=self.policy, headers=headers, content=content)
        if response.status_code != 401:
            return response
        # no token yet, or the cached one expired: follow the challenge once
        challenge = response.headers.get("www-authenticate", "")
        auth = await self._authorize(ref, challenge, actions, deadline)
        if auth is None:
            return response
        self._tokens[key] = auth
        headers["Authorization"] = auth
        return await request(self.client, method, url, deadline=deadline, policy=self.policy,
                             headers=headers, content=content)

    async def _authorize(self, ref: ImageRef, challenge: str, actions: str,
                         deadline: Deadline) -> str | None:
        scheme, params = parse_challenge(challenge)
        creds = self.credentials.get(ref.registry)
        if scheme == "basic":
            return None if creds is None else _basic(*creds)
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{ref.registry} asks for unsupported auth {challenge!r}")
        query = {"scope": params.get("scope") or f"repository:{ref.name}:{actions}"}
        if "service" in params:
            query["service"] = params["service"]
        url = f"{params['realm']}?{urlencode(query)}"
        headers = {"Authorization": _basic(*creds)} if creds else None
        answer = await request(self.client, "GET", url, deadline=deadline, policy=self.policy,
                               headers=headers)
        if answer.status_code != 200:
            raise RegistryError(f"token request {params['realm']} -> HTTP {answer.status_code}")
        try:
            data = answer.json()
            token = data.get("token") or data["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise RegistryError(f"token answer from {params['realm']} has no token") from None
        return f"Bearer {token}"

    # ------------------------------------------------------------ manifests

    async def head_manifest(self, name: str, reference: str) -> ManifestHead:
        """Digest, media type and size of `name:reference` (HEAD; a GET hashes the body where
        a registry omits Docker-Content-Digest). Raises ManifestMissing, RegistryError or
        Transient."""
        ref = _ref(name, reference)
        deadline = Deadline(self.time_bound)
        url = self.manifest_url(ref)
        response = await self._send("HEAD", ref, url, "pull", deadline, {"Accept": ACCEPT})
        if response.status_code == 405:  # a registry without HEAD: GET and hash the body
            body, media_type, digest = await self._get(ref, url, deadline)
            return ManifestHead(digest, media_type, len(body))
        if response.status_code in (401, 403, 404) and not url.startswith(
                DEFAULT_BASES[DOCKER_HUB] + "/"):
            # the GET body names the error (MANIFEST_UNKNOWN...); not on Docker Hub, where
            # a manifest GET may count against the pull quota
            answer = await self._send("GET", ref, url, "pull", deadline, {"Accept": ACCEPT})
            self._raise_for(ref, url, answer)
        self._raise_for(ref, url, response)
        digest = response.headers.get("docker-content-digest")
        size = response.headers.get("content-length")
        media_type = response.headers.get("content-type")
        if not digest:
            body, media_type, digest = await self._get(ref, url, deadline)
            size = str(len(body))
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() in ("ratelimit-remaining", "ratelimit-limit")}
        return ManifestHead(digest, media_type, int(size) if size and size.isdigit() else None,
                            headers)

    async def get_manifest(self, name: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest, the digest checked against the body."""
        ref = _ref(name, reference)
        return await self._get(ref, self.manifest_url(ref), Deadline(self.time_bound))

    async def _get(self, ref: ImageRef, url: str, deadline: Deadline) -> tuple[bytes, str, str]:
        response = await self._send("GET", ref, url, "pull", deadline, {"Accept": ACCEPT})
        self._raise_for(ref, url, response)
        body = response.content
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = response.headers.get("docker-content-digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise RegistryError(f"{url}: Docker-Content-Digest {claimed} is not the body's "
                                f"{digest}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            with contextlib.suppress(ValueError, AttributeError):
                media_type = json.loads(body).get("mediaType") or media_type
        return body, media_type, digest

    async def put_manifest(self, name: str, tag: str, body: bytes, media_type: str) -> str:
        """Store `body` under `name:tag` (e.g. a retag by digest); returns its digest."""
        ref = _ref(name, tag)
        url = self.manifest_url(ref)
        response = await self._send("PUT", ref, url, "pull,push", Deadline(self.time_bound),
                                    {"Content-Type": media_type}, body)
        if response.status_code not in (200, 201, 202):
            raise RegistryError(f"PUT {url} -> HTTP {response.status_code}: "
                                f"{_error_text(response)}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = response.headers.get("docker-content-digest")
        if claimed and claimed != digest:
            raise RegistryError(f"PUT {url}: the registry stored {claimed}, not {digest}")
        return digest

    def _raise_for(self, ref: ImageRef, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        text = _error_text(response)
        if status == 404:
            raise ManifestMissing(f"{url} -> HTTP 404{': ' + text if text else ''}", 404)
        if status in (401, 403):
            # with a pull token still refused: no such repository, or a private one
            raise ManifestMissing(
                f"{url} -> HTTP {status} with an anonymous pull token (no such repository, "
                f"or a private one){': ' + text if text else ''}", status)
        raise RegistryError(f"{url} -> HTTP {status}{': ' + text if text else ''}")


def _ref(name: str, reference: str) -> ImageRef:
    registry, repo = split_name(name)
    return ImageRef(registry, repo, reference)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _error_text(response: httpx.Response) -> str:
    """'MANIFEST_UNKNOWN: manifest unknown' from a registry error body, else ''."""
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return ""


# ---------------------------------------------------------------- sync helpers (promote)


def get_manifest(name: str, reference: str, **kwargs: object) -> tuple[bytes, str, str]:
    """Blocking `Registry.get_manifest`: (body, media type, digest)."""
    async def run() -> tuple[bytes, str, str]:
        async with Registry(**kwargs) as registry:  # type: ignore[arg-type]
            return await registry.get_manifest(name, reference)
    return asyncio.run(run())


def put_manifest(name: str, tag: str, body: bytes, media_type: str, **kwargs: object) -> str:
    """Blocking `Registry.put_manifest`: the digest now tagged `tag`."""
    async def run() -> str:
        async with Registry(**kwargs) as registry:  # type: ignore[arg-type]
            return await registry.put_manifest(name, tag, body, media_type)
    return asyncio.run(run())


def head_manifest(name: str, reference: str, **kwargs: object) -> ManifestHead:
    """Blocking `Registry.head_manifest`."""
    async def run() -> ManifestHead:
        async with Registry(**kwargs) as registry:  # type: ignore[arg-type]
            return await registry.head_manifest(name, reference)
    return asyncio.run(run())


__all__ = ["ACCEPT", "MANIFEST_TYPES", "ImageRef", "ManifestHead", "ManifestMissing",
           "Registry", "RegistryError", "Transient", "get_manifest", "head_manifest",
           "parse_image_ref", "put_manifest", "split_name"]
