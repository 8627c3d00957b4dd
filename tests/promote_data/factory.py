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


def smoke(variant: str, digest: str, *, status: str = "pass", category: str | None = None,
          gpu: tuple[str, str] | None = L40, fa: float | None = 100.0,
          sdpa: float | None = 60.0, ref: str | None = None) -> dict[str, Any]:
    """A gen-smoke/1 result for `variant`'s image `digest`."""
    return {
        "schema": "gen-smoke/1",
        "variant": variant,
        "image": {"ref": ref or f"127.0.0.1:5000/gen:{variant}", "digest": digest},
        "status": status,
        "category": category,
        "message": "ok" if status == "pass" else f"{category}: smoke failed",
        "environment": {
            "torch": "2.7.1", "torch_cuda": "12.6", "cxx11_abi": True, "python": "3.11.12",
            "driver": "570.86.15",
            "gpu": None if gpu is None else {"name": gpu[0], "compute_capability": gpu[1]},
            "flash_attn": {"version": "2.8.3", "file": "/opt/conda/lib/python3.11/x.so"},
        },
        "archs": {"sass": ["sm_80", "sm_90"], "ptx": [], "runs_on_current": True,
                  "targets": {"l40": {"compute_capability": "8.9", "runs": True}}},
        "numerics": {"max_abs_err": 0.002, "tolerance": 0.01},
        "perf": {"shape": [4, 2048, 16, 128],
                 "flash_attn": None if fa is None else {"fwd_tflops": fa,
                                                        "fwd_bwd_tflops": fa * 0.7},
                 "sdpa": None if sdpa is None else {"fwd_tflops": sdpa,
                                                    "fwd_bwd_tflops": sdpa * 0.7}},
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
