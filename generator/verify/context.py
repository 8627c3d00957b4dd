"""What every checker shares: host base URLs, options, the HTTP client, verdict builders and
a per-run cache so that many resources of one release or index page cost one request."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from generator.http import Deadline, RetryPolicy
from generator.lock import LockedResource
from generator.registry import Registry, mapping_from_env

REAL_GITHUB_URL = "https://github.com"
REAL_TORCH_INDEX = "https://download.pytorch.org/whl"


@dataclass
class Endpoints:
    """Base URL of each host; tests point them at loopback servers."""

    github_api: str = "https://api.github.com"
    github_url: str = REAL_GITHUB_URL  # where release download URLs live
    pypi_url: str = "https://pypi.org"
    torch_index: str = REAL_TORCH_INDEX  # replaces this prefix of torch index URLs
    registry_map: dict[str, str] = field(default_factory=dict)  # registry host -> base URL
    github_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Endpoints:
        """GEN_GITHUB_API, GEN_GITHUB_URL, GEN_PYPI_URL, GEN_TORCH_INDEX, GEN_REGISTRY_MAP and
        GEN_GITHUB_TOKEN (or GITHUB_TOKEN); explicit overrides (not None) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "github_api": env.get("GEN_GITHUB_API"), "github_url": env.get("GEN_GITHUB_URL"),
            "pypi_url": env.get("GEN_PYPI_URL"), "torch_index": env.get("GEN_TORCH_INDEX"),
            "github_token": env.get("GEN_GITHUB_TOKEN") or env.get("GITHUB_TOKEN"),
            "registry_map": mapping_from_env(env) or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        clean = {k: (v.rstrip("/") if isinstance(v, str) and k != "github_token" else v)
                 for k, v in values.items() if v is not None}
        return cls(**clean)

    def torch_index_url(self, index: str) -> str:
        """The configured location of a real torch index URL."""
        if index.startswith(REAL_TORCH_INDEX):
            return self.torch_index + index[len(REAL_TORCH_INDEX):]
        return index

    def download_url(self, url: str) -> str:
        """The configured location of a github.com release download URL."""
        if url.startswith(REAL_GITHUB_URL + "/"):
            return self.github_url + url[len(REAL_GITHUB_URL):]
        return url


@dataclass
class VerifyOptions:
    concurrency: int = 8
    timeout: float = 10.0  # seconds for one connect/read
    time_bound: float = 60.0  # seconds one resource may take, retries included
    total_bound: float = 600.0  # seconds the whole run may take
    max_age: float = 86400.0  # reuse `verified` lock entries younger than this (0: recheck)
    fetch_wheels: bool = False  # download and hash wheels whose host publishes no digest
    attempts: int = 4
    backoff: float = 0.25

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.attempts, backoff=self.backoff,
                           max_wait=min(30.0, self.time_bound))


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")


def verified(kind: str, digest: str, url: str | None = None, size: int | None = None,
             **extra: Any) -> LockedResource:
    return LockedResource(kind, "verified", now_iso(), digest=digest, url=url, size=size,
                          extra={k: v for k, v in extra.items() if v is not None})


def missing(kind: str, evidence: str, url: str | None = None, **extra: Any) -> LockedResource:
    return LockedResource(kind, "missing", now_iso(), url=url, evidence=evidence,
                          extra={k: v for k, v in extra.items() if v not in (None, [])})


def unverified(kind: str, why: str, url: str | None = None, **extra: Any) -> LockedResource:
    return LockedResource(kind, "unverified", now_iso(), url=url, evidence=why,
                          extra={k: v for k, v in extra.items() if v is not None})


class Context:
    """One verify run: client, registry client, options, shared fetch cache."""

    def __init__(self, client: httpx.AsyncClient, endpoints: Endpoints,
                 options: VerifyOptions, deadline: Deadline) -> None:
        self.client = client
        self.endpoints = endpoints
        self.options = options
        self.run_deadline = deadline
        self.registry = Registry(client, mapping=endpoints.registry_map,
                                 policy=options.policy, time_bound=options.time_bound)
        self._cache: dict[str, asyncio.Future[Any]] = {}

    def deadline(self) -> Deadline:
        """A deadline for one resource: its own bound, never past the run's."""
        return Deadline(min(self.options.time_bound, self.run_deadline.remaining()))

    async def shared(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run `make` once per key for the whole run (concurrent callers wait for the
        first); its exception, too, is shared."""
        if key not in self._cache:
            self._cache[key] = asyncio.ensure_future(make())
        return await asyncio.shield(self._cache[key])
