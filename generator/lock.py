"""The lock file: what `gen verify` proved about each external resource.

`matrix.lock.json` maps a stable resource key to its verdict: `verified` (with a digest
or sha256 and when), `missing` (with the HTTP evidence) or `unverified` (with why). Plan
and render read it offline; only `gen verify` writes it (atomically).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from generator.errors import UserError
from generator.fsutil import atomic_write_text

LOCK_FILE = "matrix.lock.json"
STATUSES = ("verified", "missing", "unverified")


def resource_key(resource: dict[str, str]) -> str:
    """A stable key for a resource dict from `Variant.resources()`."""
    kind = resource["kind"]
    if kind == "image":
        return f"image:{resource['ref']}"
    if kind == "wheel":
        return f"wheel:{resource['url']}"
    if kind == "sdist":
        return f"sdist:{resource['project']}=={resource['version']}"
    if kind == "torch-wheel":
        return (f"torch-wheel:{resource['project']}=={resource['version']}:"
                f"{resource['python']}:{resource['index']}")
    raise ValueError(f"unknown resource kind {kind!r}")


@dataclass
class LockedResource:
    kind: str
    status: str  # verified | missing | unverified
    checked_at: str  # ISO 8601 UTC
    digest: str | None = None  # "sha256:..." for images and files
    url: str | None = None
    size: int | None = None
    evidence: str | None = None  # HTTP evidence for missing, the reason for unverified
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str | None:
        """The bare hex sha256 of a file resource, when verified."""
        if self.digest and self.digest.startswith("sha256:"):
            return self.digest.removeprefix("sha256:")
        return None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}


@dataclass
class Lock:
    resources: dict[str, LockedResource] = field(default_factory=dict)
    path: str = LOCK_FILE

    def get(self, resource: dict[str, str]) -> LockedResource | None:
        return self.resources.get(resource_key(resource))

    def to_json(self) -> str:
        body = {"schema_version": 1, "generated_by": "gen verify",
                "resources": {k: self.resources[k].as_dict() for k in sorted(self.resources)}}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        atomic_write_text(path or self.path, self.to_json())


def load_lock(path: str | os.PathLike[str] = LOCK_FILE) -> Lock | None:
    """The lock at `path`, or None when there is none yet."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the lock file: {exc}", file=name) from None
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise UserError("not a gen lock file (schema_version 1 expected)", file=name, line=1)
    resources = {}
    for key, entry in data.get("resources", {}).items():
        if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
            raise UserError(f"resource '{key}' has no valid status", file=name, key=key)
        known = {f for f in LockedResource.__dataclass_fields__}
        resources[key] = LockedResource(**{k: v for k, v in entry.items() if k in known})
    return Lock(resources, name)
