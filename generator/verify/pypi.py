"""sdists (and wheels) on PyPI through the JSON simple API (PEP 691), with sha256."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from generator.http import Deadline, Transient, request
from generator.lock import LockedResource
from generator.verify.context import Context, missing, unverified, verified

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class _Page(Exception):
    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status = status


async def project_files(ctx: Context, project: str, deadline: Deadline) -> list[dict[str, Any]]:
    """The `files` of a project's PEP 691 page (shared by every resource of the run)."""
    url = f"{ctx.endpoints.pypi_url}/simple/{canonicalize_name(project)}/"

    async def fetch() -> list[dict[str, Any]]:
        try:
            response = await request(ctx.client, "GET", url, deadline=deadline,
                                     policy=ctx.options.policy, follow_redirects=True,
                                     headers={"Accept": SIMPLE_JSON})
        except Transient as exc:
            raise _Page("unverified", f"GET {url}: {exc}") from None
        if response.status_code == 404:
            raise _Page("missing", f"GET {url} -> HTTP 404: no project {project} on the index")
        if response.status_code != 200:
            raise _Page("unverified", f"GET {url} -> HTTP {response.status_code}")
        if not response.headers.get("content-type", "").startswith(SIMPLE_JSON):
            raise _Page("unverified", f"GET {url}: answered "
                        f"{response.headers.get('content-type')!r}, not PEP 691 JSON")
        try:
            files = response.json()["files"]
            return [f for f in files if isinstance(f, dict) and "filename" in f]
        except (ValueError, KeyError, TypeError):
            raise _Page("unverified", f"GET {url}: not a PEP 691 project page") from None

    return await ctx.shared(f"pypi:{url}", fetch)


def _sdist_version(filename: str, project: str) -> Version | None:
    try:
        name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion):
        return None
    return version if name == canonicalize_name(project) else None


async def check_sdist(ctx: Context, resource: dict[str, str]) -> LockedResource:
    project, version = resource["project"], resource["version"]
    page = f"{ctx.endpoints.pypi_url}/simple/{canonicalize_name(project)}/"
    try:
        files = await project_files(ctx, project, ctx.deadline())
    except _Page as exc:
        return (missing if exc.status == "missing" else unverified)("sdist", str(exc), page)
    want = Version(version)
    sdists = [(v, f) for f in files if (v := _sdist_version(f["filename"], project))]
    match = next((f for v, f in sdists if v == want), None)
    if match is None:
        versions = sorted({v for v, _ in sdists})
        nearest = sorted(versions, key=lambda v: (v.release[:3] != want.release[:3],
                                                  abs(versions.index(v) - _rank(versions,
                                                                                 want))))[:3]
        return missing("sdist", f"GET {page} -> HTTP 200: {len(files)} files, no sdist of "
                       f"{project} {version}", page, nearest=[str(v) for v in nearest])
    sha = (match.get("hashes") or {}).get("sha256")
    url = urljoin(page, match["url"]) if match.get("url") else page
    size = match.get("size") if isinstance(match.get("size"), int) else None
    if not isinstance(sha, str) or len(sha) != 64:
        return unverified("sdist", f"{page} lists {match['filename']} without a sha256", url)
    yanked = match.get("yanked")
    return verified("sdist", f"sha256:{sha}", url, size, filename=match["filename"],
                    yanked=(yanked if isinstance(yanked, str) else "yanked") if yanked
                    else None)


def _rank(versions: list[Version], want: Version) -> int:
    return sum(1 for v in versions if v < want)
