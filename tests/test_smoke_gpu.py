"""GPU tests of the smoke kernel: run only where torch sees a CUDA GPU (CI has none: skipped).

The smoke folder is taken from GEN_SMOKE_DIR when set (the device run uses a copy), else from
this checkout; it is run as in an image, as a script beside its siblings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SMOKE_DIR = Path(os.environ.get("GEN_SMOKE_DIR")
                 or Path(__file__).resolve().parents[1] / "generator" / "smoke")

try:
    import torch

    HAS_GPU = bool(torch.cuda.is_available())
except Exception:  # torch missing or broken: no GPU tests here
    HAS_GPU = False

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not HAS_GPU, reason="needs torch with a CUDA GPU")]


def smoke_module(name: str) -> Any:
    if str(SMOKE_DIR) not in sys.path:
        sys.path.insert(0, str(SMOKE_DIR))
    return __import__(name)


def current_cc() -> str:
    major, minor = torch.cuda.get_device_capability()
    return f"{major}.{minor}"


def run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "smoke.json"
    proc = subprocess.run([sys.executable, str(SMOKE_DIR / "smoke.py"), "--out", str(out),
                           *args], capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(out.read_text())
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        schema = json.loads((SMOKE_DIR / "smoke.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
    return proc.returncode, doc


def flash_attn_present() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def test_full_smoke_passes_on_this_gpu(tmp_path: Path) -> None:
    if not flash_attn_present():
        pytest.skip("flash_attn is not installed here")
    rc, doc = run(tmp_path, "--target", f"here={current_cc()}")
    assert (rc, doc["status"], doc["category"]) == (0, "pass", None), doc["message"]
    assert doc["archs"]["runs_on_current"] is True
    assert doc["numerics"]["passed"] and doc["numerics"]["subject"] == "flash_attn"
    names = {case["name"] for case in doc["numerics"]["cases"]}
    assert {"bfloat16-causal-d128", "float16-full-d64", "varlen-bfloat16-causal-d128"} <= names
    assert doc["perf"]["flash_attn"]["fwd_tflops"] > 0 and doc["perf"]["sdpa"]["fwd_tflops"] > 0
    assert doc["duration_s"] < 30


def test_target_without_code_is_arch_unsupported(tmp_path: Path) -> None:
    if not flash_attn_present():
        pytest.skip("flash_attn is not installed here")
    fatbin, archs = smoke_module("fatbin"), smoke_module("archs")
    ext = fatbin.locate_extension()
    info = fatbin.read_fatbin(ext)
    missing = next((cc for cc in ("8.9", "8.0", "9.0", "12.0")
                    if not archs.binary_runs_on(info.sass, info.ptx, cc)), None)
    if missing is None:
        pytest.skip(f"this flash_attn build runs everywhere: {info.sass} {info.ptx}")
    rc, doc = run(tmp_path, "--target", f"other={missing}")
    assert rc == 1 and doc["category"] == "arch-unsupported"
    assert doc["archs"]["targets"]["other"]["runs"] is False


def test_sdpa_only_numerics_pass() -> None:
    numerics = smoke_module("numerics")
    doc = numerics.run_numerics(torch, None, torch.cuda.get_device_capability())
    assert doc["subject"] == "sdpa" and doc["passed"], doc["worst"]


def test_rule_rejects_a_wrong_kernel() -> None:
    """A kernel with a 25% wrong softmax scale must fail flash-attention's error rule."""
    import torch.nn.functional as F

    numerics = smoke_module("numerics")

    def wrong(q: Any, k: Any, v: Any, causal: bool) -> Any:
        scale = 1.25 / q.shape[-1] ** 0.5
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), is_causal=causal, scale=scale)
        return out.transpose(1, 2)

    case = numerics.check_case(torch, wrong, "bfloat16", False, 64, True, seed=7)
    assert not case["ok"]
    assert not next(c for c in case["checks"] if c["tensor"] == "out")["ok"]
    right = numerics.check_case(torch, numerics.sdpa_fn(torch), "bfloat16", False, 64, True,
                                seed=7)
    assert right["ok"], right["checks"]
