"""Smoke results and build metadata for the promote/explain tests, shaped like the real
contracts (gen-smoke/1 from the smoke script, gen-build/1 from CI's build job)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MATRIX = Path(__file__).resolve().parent / "matrix.yaml"
L40 = ("NVIDIA L40", "8.9")
H100 = ("NVIDIA H100 80GB HBM3", "9.0")
A10 = ("NVIDIA A10", "8.6")


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _timing(tflops: float) -> dict[str, float]:
    return {"fwd_ms": round(100.0 / tflops, 4), "fwd_bwd_ms": round(300.0 / tflops, 4),
            "fwd_tflops": tflops, "fwd_bwd_tflops": round(tflops * 0.7, 3)}


def smoke(variant: str, digest: str, *, status: str = "pass", category: str | None = None,
          gpu: tuple[str, str] | None = L40, fa: float | None = 100.0,
          sdpa: float = 60.0, ref: str | None = None) -> dict[str, Any]:
    """A gen-smoke/1 result for `variant`'s image `digest` (valid under smoke.schema.json)."""
    problems = [] if status == "pass" else [
        {"category": category, "stage": "import-flash-attn", "message": f"{category}: "
         "undefined symbol: _ZN3c105ErrorC2E"}]
    return {
        "schema": "gen-smoke/1",
        "variant": variant,
        "image": {"ref": ref or f"127.0.0.1:5000/gen:{variant}", "digest": digest},
        "status": status,
        "category": category,
        "message": "all checks passed" if status == "pass" else problems[0]["message"],
        "problems": problems,
        "environment": {
            "python": "3.11.12", "torch": "2.7.1+cu126", "torch_cuda": "12.6",
            "cxx11_abi": True, "driver": "570.86.15", "driver_cuda": "12.8",
            "gpu": None if gpu is None else {"name": gpu[0], "compute_capability": gpu[1],
                                             "count": 1},
            "flash_attn": {"expected": not variant.startswith("none-"), "version": "2.8.3",
                           "file": "/opt/conda/lib/python3.11/site-packages/flash_attn_2_cuda"
                                   ".cpython-311-x86_64-linux-gnu.so", "extension": None},
        },
        "archs": {"file": None, "sass": ["sm_80", "sm_90"], "ptx": [], "source": "elf",
                  "cuobjdump": None, "runs_on_current": True, "torch": None,
                  "targets": {"l40": {"compute_capability": "8.9", "gpu": "L40",
                                      "runs": True}}},
        "numerics": None,
        "perf": None if gpu is None else {
            "shape": {"batch": 4, "seqlen": 2048, "heads": 16, "head_dim": 128,
                      "dtype": "bfloat16", "causal": False},
            "flash_attn": None if fa is None else _timing(fa),
            "sdpa": _timing(sdpa)},
        "duration_s": 12.5,
    }


def build(variant: str, digest: str, repository: str = "127.0.0.1:5000/gen") -> dict[str, Any]:
    """A gen-build/1 record: CI built `variant` as repository:variant at `digest`."""
    return {"schema": "gen-build/1", "variant": variant, "image": f"{repository}:{variant}",
            "digest": digest}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path
