"""Shared set-up for the render tests: a small matrix, a lock that verifies it, and a
function that renders into a temporary root."""

from __future__ import annotations

import hashlib

from generator.lock import Lock, LockedResource, resource_key
from generator.matrix import parse_matrix
from generator.plan import build_plan
from generator.render import engine
from generator.render.context import Options

SMALL_MATRIX = """\
schema_version: 1
targets:
  - name: l40
    gpu: L40
    runs_on: [self-hosted, linux, x64, gpu, l40]
bases:
  - image: pytorch/pytorch
    tags: [2.7.1-cuda12.6-cudnn9-devel, 2.7.1-cuda12.6-cudnn9-runtime]
  - image: nvidia/cuda
    tags: [12.6.3-cudnn-devel-ubuntu22.04]
torch: ["2.7.1"]
flash_attn: ["2.8.3"]
strategies: [wheel, pypi-sdist, source, none]
build:
  max_jobs: 3
  nvcc_threads: 2
"""

# One variant per strategy, used by the golden files and the Dockerfile structure tests.
GOLDEN = {
    "wheel": "wheel-fa2.8.3-pt2.7.1-cu126-py310-cuda12.6.3-cudnn-devel-ubuntu22.04-l40",
    "pypi-sdist": "pypi-sdist-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-l40",
    "source": "source-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40",
    "none": "none-pt2.7.1-cu126-py311-pytorch-runtime-l40",
}


def fake_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def full_lock(matrix_text: str = SMALL_MATRIX, missing: tuple[str, ...] = ()) -> Lock:
    """A lock that verifies every resource of the matrix (keys in `missing` are missing)."""
    plan = build_plan(parse_matrix(matrix_text))
    resources: dict[str, LockedResource] = {}
    for v in plan.variants:
        for res in v.resources():
            key = resource_key(res)
            if key in missing:
                resources[key] = LockedResource(res["kind"], "missing", "2026-01-01T00:00:00Z",
                                                evidence="HTTP 404")
                continue
            url = None
            if res["kind"] == "torch-wheel":
                url = (f"https://download-r2.pytorch.org/whl/{res['index'].rsplit('/', 1)[-1]}/"
                       f"torch-{res['version']}%2B{res['index'].rsplit('/', 1)[-1]}-"
                       f"{res['python']}-{res['python']}-manylinux_2_28_x86_64.whl")
            resources[key] = LockedResource(res["kind"], "verified", "2026-01-01T00:00:00Z",
                                            digest="sha256:" + fake_sha(key), url=url)
    return Lock(resources)


def render_small(lock: Lock | None = None,
                 allow_unverified: bool = False, matrix_text: str = SMALL_MATRIX):
    matrix = parse_matrix(matrix_text, "matrix.yaml")
    lock = lock if lock is not None else full_lock(matrix_text)
    opts = Options(lock_found=True, allow_unverified=allow_unverified)
    return engine.render(build_plan(matrix), matrix, lock, opts)
