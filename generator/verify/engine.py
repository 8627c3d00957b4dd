"""Run every checker with bounded concurrency and build the new lock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import httpx

from generator.http import Deadline, make_client
from generator.lock import Lock, LockedResource, resource_key
from generator.verify.context import Context, Endpoints, VerifyOptions, unverified
from generator.verify.github import check_wheel
from generator.verify.images import check_image
from generator.verify.progress import Progress
from generator.verify.pypi import check_sdist
from generator.verify.torch_index import check_torch_wheel

Checker = Callable[[Context, dict[str, str]], Awaitable[LockedResource]]
CHECKERS: dict[str, Checker] = {
    "image": check_image,
    "wheel": check_wheel,
    "sdist": check_sdist,
    "torch-wheel": check_torch_wheel,
}


def unique_resources(resources: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for resource in resources:
        out.setdefault(resource_key(resource), resource)
    return out


def _age(entry: LockedResource) -> float | None:
    try:
        when = dt.datetime.fromisoformat(entry.checked_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt.datetime.now(dt.timezone.utc) - when).total_seconds()


def reusable(entry: LockedResource | None, max_age: float) -> bool:
    """A `verified` entry younger than `max_age` seconds is not asked again."""
    if entry is None or entry.status != "verified" or max_age <= 0:
        return False
    age = _age(entry)
    return age is not None and 0 <= age < max_age


def offline_lock(resources: list[dict[str, str]], previous: Lock | None, path: str,
                 progress: Progress | None = None) -> Lock:
    """The verdicts the lock already holds; a resource it lacks is unverified."""
    out = Lock(path=path)
    for key, resource in unique_resources(resources).items():
        entry = previous.resources.get(key) if previous else None
        if entry is None:
            entry = unverified(resource["kind"], "not in the lock file (offline run)")
        out.resources[key] = entry
        if progress:
            progress.update(key, entry, reused=True)
    return out


async def verify_resources(resources: list[dict[str, str]], *, previous: Lock | None = None,
                           endpoints: Endpoints | None = None,
                           options: VerifyOptions | None = None, path: str = "",
                           progress: Progress | None = None) -> Lock:
    """Check each resource (at most `concurrency` at once) and return the new lock."""
    endpoints = endpoints or Endpoints.from_env()
    options = options or VerifyOptions()
    todo = unique_resources(resources)
    out = Lock(path=path) if path else Lock()
    semaphore = asyncio.Semaphore(max(1, options.concurrency))
    run_deadline = Deadline(options.total_bound)
    async with make_client(options.timeout, max(1, options.concurrency)) as client:
        ctx = Context(client, endpoints, options, run_deadline)

        async def one(key: str, resource: dict[str, str]) -> None:
            old = previous.resources.get(key) if previous else None
            if reusable(old, options.max_age):
                assert old is not None
                out.resources[key] = old
                if progress:
                    progress.update(key, old, reused=True)
                return
            async with semaphore:
                out.resources[key] = entry = await _checked(ctx, resource)
            if progress:
                progress.update(key, entry)

        await asyncio.gather(*(one(k, r) for k, r in todo.items()))
    return out


async def _checked(ctx: Context, resource: dict[str, str]) -> LockedResource:
    kind = resource["kind"]
    left = ctx.run_deadline.remaining()
    if left <= 0:
        return unverified(kind, f"not checked: the run's time bound "
                          f"({ctx.options.total_bound:.0f} s) ran out")
    checker = CHECKERS.get(kind)
    if checker is None:
        return unverified(kind, f"no checker for resource kind {kind!r}")
    try:
        # each checker keeps its own bound; this is the backstop for the whole run
        return await asyncio.wait_for(checker(ctx, resource), timeout=left + 1.0)
    except asyncio.TimeoutError:
        return unverified(kind, "not finished within the run's time bound")
    except (httpx.HTTPError, ValueError) as exc:  # e.g. a malformed URL or answer
        return unverified(kind, f"{type(exc).__name__}: {exc}")
