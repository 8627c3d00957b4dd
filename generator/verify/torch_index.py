"""torch wheels on the PyTorch index: static PEP 503 HTML, hashes in `#sha256=` fragments.

The index sometimes omits the fragment (pytorch issues #153469, #164347): a wheel without
one is `unverified`, never fine.
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from generator.http import Transient, request
from generator.lock import LockedResource
from generator.verify.context import Context, missing, unverified, verified

_ANCHOR = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"'][^>]*>", re.I)


class _Page(Exception):
    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status = status


def parse_links(page: str, base: str) -> list[tuple[str, str, str | None]]:
    """(file name, absolute URL without fragment, sha256 or None) of each anchor."""
    out = []
    for href in _ANCHOR.findall(page):
        href = html.unescape(href)
        url, _, fragment = href.partition("#")
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        algo, _, value = fragment.partition("=")
        sha = value.lower() if algo == "sha256" and re.fullmatch(r"[0-9a-fA-F]{64}",
                                                                  value) else None
        out.append((name, urljoin(base, url), sha))
    return out


def _fits(name: str, version: Version, python: str, local: str | None) -> bool | None:
    """True when a wheel file name is torch `version` for `python` on linux x86_64."""
    try:
        _, got, _, tags = parse_wheel_filename(name)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    if Version(got.public) != version or (local and got.local and got.local != local):
        return False
    return any(t.interpreter == python and "x86_64" in t.platform and "linux" in t.platform
               for t in tags)


async def check_torch_wheel(ctx: Context, resource: dict[str, str]) -> LockedResource:
    project, version, python = resource["project"], resource["version"], resource["python"]
    index = resource["index"].rstrip("/")
    page = f"{ctx.endpoints.torch_index_url(index)}/{canonicalize_name(project)}/"
    local = index.rsplit("/", 1)[-1] if re.fullmatch(r"cu\d+|cpu|rocm[\d.]+",
                                                      index.rsplit("/", 1)[-1]) else None
    deadline = ctx.deadline()

    async def fetch() -> list[tuple[str, str, str | None]]:
        try:
            response = await request(ctx.client, "GET", page, deadline=deadline,
                                     policy=ctx.options.policy, follow_redirects=True)
        except Transient as exc:
            raise _Page("unverified", f"GET {page}: {exc}") from None
        if response.status_code == 404:
            raise _Page("missing", f"GET {page} -> HTTP 404: no {project} on that index")
        if response.status_code != 200:
            raise _Page("unverified", f"GET {page} -> HTTP {response.status_code}")
        return parse_links(response.text, str(response.url))

    try:
        links = await ctx.shared(f"index:{page}", fetch)
    except _Page as exc:
        return (missing if exc.status == "missing" else unverified)("torch-wheel", str(exc),
                                                                    page)
    want = Version(version)
    found = [(n, u, s) for n, u, s in links if _fits(n, want, python, local)]
    if not found:
        same_version = sorted({n for n, _, _ in links if _fits(n, want, "", local) is False
                               and f"-{version}" in n and "x86_64" in n})
        versions = sorted({n.split("-")[1] for n, _, _ in links if f"-{python}-" in n})
        nearest = (same_version[:3] or versions[-3:])
        return missing("torch-wheel", f"GET {page} -> HTTP 200: {len(links)} files, no "
                       f"{project} {version} wheel for {python} linux x86_64", page,
                       nearest=nearest)
    hashed = [(n, u, s) for n, u, s in found if s]
    if not hashed:
        name, url, _ = found[0]
        return unverified("torch-wheel", f"{page} lists {name} without a #sha256= hash", url,
                          filename=name)
    name, url, sha = hashed[0]
    return verified("torch-wheel", f"sha256:{sha}", url, filename=name)
