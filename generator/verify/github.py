"""Wheels: GitHub release assets (the releases API, its `digest` when present, else the
download URL's redirect) and any other user-supplied wheel URL.

A wheel is a zip: an answer of another size, a `text/html` page (GitHub once served its
error page with status 200 in place of an asset) or bytes that do not start like a zip are
never taken for the wheel.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from generator.http import Deadline, Transient, request, stream
from generator.lock import LockedResource
from generator.verify.context import Context, missing, unverified, verified

_RELEASE_URL = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/download/"
                          r"(?P<tag>[^/]+)/(?P<name>[^/]+)$")
ZIP_MAGIC = b"PK\x03\x04"
MAX_REDIRECTS = 8


class _Listing(Exception):
    """The release listing could not be read; `verdict` says how (missing or unverified)."""

    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status = status


async def check_wheel(ctx: Context, resource: dict[str, str]) -> LockedResource:
    url = resource["url"]
    local = ctx.endpoints.download_url(url)
    parts = urlsplit(local)
    base = ctx.endpoints.github_url
    match = _RELEASE_URL.match(parts.path[len(urlsplit(base).path):]) if (
        local.startswith(base + "/")) else None
    if match is None:
        return await check_url(ctx, url, local)
    owner, repo, tag = match["owner"], match["repo"], unquote(match["tag"])
    name = unquote(match["name"])
    deadline = ctx.deadline()
    try:
        assets = await ctx.shared(f"release:{owner}/{repo}@{tag}",
                                  lambda: _release_assets(ctx, owner, repo, tag, deadline))
        api = f"{ctx.endpoints.github_api}/repos/{owner}/{repo}/releases/tags/{tag}"
    except _Listing as exc:
        return (missing if exc.status == "missing" else unverified)("wheel", str(exc), url)
    asset = assets.get(name)
    if asset is None:
        wheels = sorted(n for n in assets if n.endswith(".whl"))
        nearest = difflib.get_close_matches(name, wheels, n=3, cutoff=0.0)
        return missing("wheel", f"GET {api} -> HTTP 200: release {tag} of {owner}/{repo} has "
                       f"{len(assets)} assets ({len(wheels)} wheels), none named {name}", url,
                       nearest=nearest)
    size = asset.get("size")
    if asset.get("content_type", "").startswith("text/html"):
        return unverified("wheel", f"the release lists {name} as text/html, not a wheel", url)
    if asset.get("state", "uploaded") != "uploaded":
        return unverified("wheel", f"the asset {name} is in state {asset['state']!r}", url)
    digest = asset.get("digest")
    if isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        return verified("wheel", digest, url, size if isinstance(size, int) else None,
                        source="github release digest")
    download = ctx.endpoints.download_url(asset.get("browser_download_url") or url)
    return await _check_download(ctx, url, download, size if isinstance(size, int) else None,
                                 deadline, "the release lists no digest")


async def _release_assets(ctx: Context, owner: str, repo: str, tag: str,
                          deadline: Deadline) -> dict[str, dict[str, Any]]:
    api = f"{ctx.endpoints.github_api}/repos/{owner}/{repo}/releases/tags/{tag}"
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if ctx.endpoints.github_token:
        headers["Authorization"] = f"Bearer {ctx.endpoints.github_token}"
    try:
        response = await request(ctx.client, "GET", api, deadline=deadline,
                                 policy=ctx.options.policy, headers=headers,
                                 follow_redirects=True)
    except Transient as exc:
        raise _Listing("unverified", f"GET {api}: {exc}") from None
    if response.status_code == 404:
        raise _Listing("missing", f"GET {api} -> HTTP 404: {owner}/{repo} has no release "
                       f"{tag}")
    if response.status_code != 200:
        raise _Listing("unverified", f"GET {api} -> HTTP {response.status_code}")
    try:
        assets = response.json()["assets"]
        return {a["name"]: a for a in assets if isinstance(a, dict) and "name" in a}
    except (ValueError, KeyError, TypeError):
        raise _Listing("unverified", f"GET {api}: the answer is not a release") from None


@dataclass
class _Body:
    content_type: str
    length: int | None  # Content-Length
    head: bytes  # the first bytes
    sha256: str | None  # of the whole body, when it was read
    size: int  # bytes read


def _reader(read_all: bool):
    async def read(response: httpx.Response) -> _Body:
        hasher = hashlib.sha256()
        head = b""
        size = 0
        length = response.headers.get("content-length")
        async for chunk in response.aiter_bytes():
            if len(head) < 4:
                head += chunk[: 4 - len(head)]
            hasher.update(chunk)
            size += len(chunk)
            if not read_all and size >= 4:
                break
        return _Body(response.headers.get("content-type", ""),
                     int(length) if length and length.isdigit() else None, head,
                     hasher.hexdigest() if read_all else None, size)
    return read


async def _follow(ctx: Context, url: str, deadline: Deadline,
                  read_all: bool) -> tuple[str, httpx.Response, _Body | None]:
    """GET with redirects followed by hand (a loop is reported, not retried forever)."""
    seen = [url]
    while True:
        response, body = await stream(ctx.client, url, _reader(read_all), deadline=deadline,
                                      policy=ctx.options.policy)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return url, response, body
        url = urljoin(url, location)
        if url in seen or len(seen) > MAX_REDIRECTS:
            chain = " -> ".join([*seen[-3:], url])
            raise Transient(f"redirect loop after {len(seen)} hops ({chain})")
        seen.append(url)


async def _check_download(ctx: Context, url: str, download: str, size: int | None,
                          deadline: Deadline, why_no_hash: str,
                          expected_sha256: str | None = None) -> LockedResource:
    read_all = ctx.options.fetch_wheels or expected_sha256 is not None
    try:
        final, response, body = await _follow(ctx, download, deadline, read_all)
    except Transient as exc:
        return unverified("wheel", f"GET {download}: {exc}", url)
    status = response.status_code
    if status in (404, 410):
        return missing("wheel", f"GET {final} -> HTTP {status}", url, http_status=status)
    if status != 200 or body is None:
        return unverified("wheel", f"GET {final} -> HTTP {status}", url)
    if "html" in body.content_type or body.head[:4] != ZIP_MAGIC:
        what = body.content_type or "no content type"
        return unverified("wheel", f"GET {final} served {what} (starts {body.head[:4]!r}) "
                          "in place of a wheel", url)
    got = body.size if read_all else body.length
    if size is not None and got is not None and got != size:
        return unverified("wheel", f"GET {final}: {got} bytes, the release lists {size}", url)
    if body.sha256 is None:
        return unverified("wheel", f"{why_no_hash}; the download answers a zip of "
                          f"{got if got is not None else 'unknown'} bytes, not hashed "
                          "(gen verify --fetch-wheels hashes it)", url, size=got)
    if expected_sha256 and body.sha256 != expected_sha256:
        return unverified("wheel", f"GET {final}: sha256 {body.sha256} is not the "
                          f"{expected_sha256} the URL names", url)
    return verified("wheel", "sha256:" + body.sha256, url, body.size, source="downloaded")


async def check_url(ctx: Context, url: str, local: str) -> LockedResource:
    """A wheel on any host: exists (not 404), is a zip, and its hash when the URL names one
    (`#sha256=`) or --fetch-wheels downloads it."""
    parts = urlsplit(local)
    fragment = dict(p.partition("=")[::2] for p in parts.fragment.split("&") if p)
    expected = fragment.get("sha256")
    plain = parts._replace(fragment="").geturl()
    return await _check_download(ctx, url, plain, None, ctx.deadline(),
                                 "the host publishes no hash", expected)
