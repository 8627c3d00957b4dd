"""Shared test helpers.

Integration tests need real components (a docker-registry binary, nvcc, nix, hadolint...).
On a laptop without one they skip; with GEN_REQUIRE_INTEGRATION=1 (set by .ci/run) a
missing component fails the test instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from servers.registry import oci_registry, oci_registry_auth  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_INTEGRATION = os.environ.get("GEN_REQUIRE_INTEGRATION") == "1"


def require(available: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) when a component the test needs is missing."""
    if available:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"{what} is missing, and GEN_REQUIRE_INTEGRATION=1 requires it")
    pytest.skip(f"{what} is not installed (CI installs it and makes this test run)")


def require_tool(name: str, *candidates: str) -> str:
    """Path of an executable (first found of name and candidates), or skip/fail."""
    for tool in (name, *candidates):
        path = shutil.which(tool) or (tool if os.path.isabs(tool) and os.access(tool, os.X_OK)
                                      else None)
        if path:
            return path
    require(False, f"the '{name}' executable")
    raise AssertionError("unreachable")


@pytest.fixture
def repo_root() -> Path:
    return ROOT
