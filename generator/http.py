"""The shared async HTTP client and the retry loop every remote check goes through.

httpx retries only failed connects by itself; 429/5xx answers, read timeouts and resets
need this loop. It backs off exponentially, honours `Retry-After` and GitHub's
`x-ratelimit-remaining`/`x-ratelimit-reset`, and never runs past a deadline: when the
next wait would cross it, it gives up with a `Transient` error whose text is the reason
(the verdict is then `unverified`, never a guess).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
USER_AGENT = "gen-verify/0.1"
T = TypeVar("T")


class Transient(Exception):
    """A request that could not be answered in time (rate limit, timeout, reset...)."""


@dataclass
class RetryPolicy:
    attempts: int = 4  # tries per request, the first included
    backoff: float = 0.25  # first wait in seconds; doubles each time, with jitter
    max_wait: float = 30.0  # never sleep longer than this in one go


class Deadline:
    """An absolute point in time (monotonic clock) that a check must not run past."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK


def make_client(timeout: float = 10.0, max_connections: int = 16,
                follow_redirects: bool = False) -> httpx.AsyncClient:
    """An AsyncClient for the real hosts (proxy settings from the environment) that talks
    to loopback hosts directly, so a proxy never sees a test server."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    direct = httpx.AsyncHTTPTransport(limits=limits, retries=1)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {
        f"all://{host}": direct for host in ("127.0.0.1", "localhost")}
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), limits=limits, mounts=mounts, trust_env=True,
        follow_redirects=follow_redirects, headers={"User-Agent": USER_AGENT})


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or GitHub's rate-limit
    headers (`x-ratelimit-remaining: 0` with an epoch `x-ratelimit-reset`), else None."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset",
                                                                   "").isdigit():
        return max(0.0, float(headers["x-ratelimit-reset"]) - now)
    return None


def _rate_limited(response: httpx.Response) -> bool:
    """GitHub answers an exhausted quota with 403 (or 429) and remaining 0."""
    return response.status_code in (403, 429) and response.headers.get(
        "x-ratelimit-remaining") == "0"


def describe(exc: BaseException) -> str:
    """A short reason for a network failure, e.g. 'read timeout' or 'connection reset'."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, httpx.ReadTimeout | asyncio.TimeoutError):
        return "read timeout (no answer in time)"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects (a redirect loop)"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return f"connection reset or closed mid-answer ({exc or type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


async def request(client: httpx.AsyncClient, method: str, url: str, *, deadline: Deadline,
                  policy: RetryPolicy | None = None, headers: Mapping[str, str] | None = None,
                  content: bytes | None = None,
                  follow_redirects: bool = False) -> httpx.Response:
    """Send a request (body read) with retries; raise `Transient` when it cannot be answered
    before `deadline`. Non-retryable answers (2xx, 3xx, 404, 401...) come back as they are."""
    async def once() -> tuple[httpx.Response, None]:
        return await client.request(method, url, headers=headers, content=content,
                                    follow_redirects=follow_redirects), None
    return (await with_retries(once, url=url, deadline=deadline, policy=policy))[0]


async def stream(client: httpx.AsyncClient, url: str, reader: Callable[[httpx.Response],
                 Awaitable[T]], *, deadline: Deadline, policy: RetryPolicy | None = None,
                 headers: Mapping[str, str] | None = None) -> tuple[httpx.Response, T | None]:
    """GET `url` (no redirect following) and hand a 200 answer's open stream to `reader`;
    retries like `request`. The reader's result is None for any other status."""
    async def once() -> tuple[httpx.Response, T | None]:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                return response, None
            return response, await reader(response)
    return await with_retries(once, url=url, deadline=deadline, policy=policy)


async def with_retries(once: Callable[[], Awaitable[tuple[httpx.Response, T]]], *, url: str,
                       deadline: Deadline,
                       policy: RetryPolicy | None = None) -> tuple[httpx.Response, T]:
    """Run `once` until it gives a non-retryable answer, backing off between tries."""
    policy = policy or RetryPolicy()
    last = "no attempt"
    for attempt in range(policy.attempts):
        left = deadline.remaining()
        if left <= 0:
            break
        wait: float | None = None
        try:
            response, result = await asyncio.wait_for(once(), timeout=left)
        except (httpx.TransportError, asyncio.TimeoutError) as exc:
            if isinstance(exc, httpx.TooManyRedirects | httpx.UnsupportedProtocol):
                raise Transient(describe(exc)) from exc
            last = describe(exc)
        else:
            if response.status_code not in RETRY_STATUSES and not _rate_limited(response):
                return response, result
            hint = retry_after(response.headers)
            limited = response.status_code == 429 or _rate_limited(response)
            last = (f"rate limited (HTTP {response.status_code}"
                    + (f", retry after {hint:.0f} s)" if hint is not None else ")")
                    if limited else f"HTTP {response.status_code} from {_host(url)}")
            if hint is not None:
                if hint > min(policy.max_wait, deadline.remaining()):
                    raise Transient(f"{last}: the wait exceeds the time bound")
                wait = hint
        if attempt + 1 == policy.attempts:
            break
        if wait is None:
            wait = min(policy.max_wait, policy.backoff * 2 ** attempt) * (
                0.5 + random.random() / 2)
        if wait >= deadline.remaining():
            raise Transient(f"{last}; gave up at the time bound")
        await asyncio.sleep(wait)
    raise Transient(f"{last} (after {policy.attempts} tries)" if deadline.remaining() > 0
                    else f"{last}; gave up at the time bound")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
