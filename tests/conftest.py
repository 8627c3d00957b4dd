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


def require_torch():
    """torch (a CPU build is enough): .ci/run installs it, a laptop may lack it."""
    try:
        import torch
    except ImportError:
        require(False, "torch (pip install torch==2.13.0, a CPU build)")
    return torch


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current renderer (review the diff!)")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
