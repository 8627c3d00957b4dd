"""smoke.py run as in an image (folder copied alone, `python -S`) on this GPU-less machine:
real loader failures built with gcc, the no-GPU path, version checks, the JSON contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import require_tool, require_torch

sys.path.insert(0, str(Path(__file__).parent / "smoke_data"))
import fakes


def variant_file(tmp: Path, **overrides: object) -> Path:
    doc = {"id": "pt2.7.1-cu126-py3.11-fa2.8.3", "strategy": "wheel",
           "targets": [{"name": "l40", "gpu": "L40", "compute_capability": "8.9"}],
           "expect": {"torch": "2.7.1", "cuda": "12.6", "python": None, "cxx11_abi": True,
                      "flash_attn": "2.8.3"},
           "perf_floor_tflops": None}
    doc.update(overrides)
    path = tmp / "variant.json"
    path.write_text(json.dumps(doc))
    return path


def test_no_gpu_without_flash_attn_strategy_none(tmp_path: Path) -> None:
    site = fakes.write_fake_torch(tmp_path / "site")
    variant = variant_file(tmp_path, strategy="none",
                           expect={"torch": "2.7.1", "cuda": "12.6", "flash_attn": None})
    rc, doc, stderr = fakes.run_smoke(
        tmp_path, [site], "--variant-json", str(variant), "--image-ref", "repo/img:tag",
        env={"GEN_IMAGE_DIGEST": "sha256:" + "ab" * 32})
    assert rc == 1
    assert doc["schema"] == "gen-smoke/1"
    assert (doc["status"], doc["category"]) == ("fail", "no-gpu")
    assert [p["category"] for p in doc["problems"]] == ["no-gpu"]  # flash_attn absent is fine
    assert doc["variant"] == "pt2.7.1-cu126-py3.11-fa2.8.3"
    assert doc["image"] == {"ref": "repo/img:tag", "digest": "sha256:" + "ab" * 32}
    env = doc["environment"]
    assert (env["torch"], env["torch_cuda"], env["cxx11_abi"]) == ("2.7.1+cu126", "12.6", True)
    assert env["flash_attn"] == {"expected": False, "version": None, "file": None,
                                 "extension": None}
    assert env["gpu"] is None
    # Static part still ran: no extension, but torch's own archs judged for the target.
    assert doc["archs"]["source"] is None
    assert doc["archs"]["targets"]["l40"]["runs"] is None
    assert doc["archs"]["targets"]["l40"]["torch_runs"] is True
    assert doc["numerics"] is None and doc["perf"] is None
    assert stderr.strip().startswith("smoke: fail [no-gpu]")


def test_torch_missing_is_not_installed(tmp_path: Path) -> None:
    rc, doc, _ = fakes.run_smoke(tmp_path, [], "--target", "l40=8.9")
    assert rc == 1 and doc["category"] == "not-installed"
    assert doc["message"] == "torch is not installed"
    assert "ModuleNotFoundError" in doc["problems"][0]["traceback"]


def test_flash_attn_missing_when_expected(tmp_path: Path) -> None:
    site = fakes.write_fake_torch(tmp_path / "site")
    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--variant-json", str(variant_file(tmp_path)))
    assert rc == 1 and doc["category"] == "not-installed"
    assert doc["message"] == "flash_attn is not installed"
    assert {p["category"] for p in doc["problems"]} == {"not-installed", "no-gpu"}


@pytest.mark.parametrize("layout", ["top-level", "in-package"])
def test_undefined_cxx_symbol_is_abi_mismatch(tmp_path: Path, layout: str) -> None:
    require_tool("gcc")
    site = fakes.write_fake_torch(tmp_path / "site")
    fakes.write_fake_flash_attn(site, ext=fakes.abi_mismatch_so(tmp_path), layout=layout)
    rc, doc, _ = fakes.run_smoke(tmp_path, [site])
    assert rc == 1 and doc["category"] == "abi-mismatch"
    details = doc["problems"][0]["details"]
    assert details["symbol"] == fakes.ABI_SYMBOL
    assert details["demangled"].startswith("c10::Error::Error(c10::SourceLocation, std::__cxx11::")
    assert "undefined symbol c10::Error::Error(" in doc["message"]
    # The static check found the (device-code-free) extension without importing it.
    assert doc["archs"]["file"].endswith(f"flash_attn_2_cuda{fakes.EXT_SUFFIX}")
    assert (doc["archs"]["sass"], doc["archs"]["ptx"]) == ([], [])


def test_missing_libcudart_is_cuda_runtime_mismatch(tmp_path: Path) -> None:
    require_tool("gcc")
    site = fakes.write_fake_torch(tmp_path / "site")
    fakes.write_fake_flash_attn(site, ext=fakes.missing_cudart_so(tmp_path))
    rc, doc, _ = fakes.run_smoke(tmp_path, [site])
    assert rc == 1 and doc["category"] == "cuda-runtime-mismatch"
    assert doc["problems"][0]["details"] == {"library": "libcudart.so.99"}
    assert "cannot load libcudart.so.99" in doc["message"]


def test_versions_differing_from_the_variant(tmp_path: Path) -> None:
    site = fakes.write_fake_torch(tmp_path / "site", version="2.8.0+cu128", cuda="12.8",
                                  abi=False)
    fakes.write_fake_flash_attn(site, version="2.8.3.post2")
    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--variant-json", str(variant_file(tmp_path)))
    assert rc == 1 and doc["category"] == "version-mismatch"
    keys = {p["details"]["key"] for p in doc["problems"] if p["category"] == "version-mismatch"}
    assert keys == {"torch", "cuda", "cxx11_abi"}  # 2.8.3.post2 is a 2.8.3
    assert doc["environment"]["flash_attn"]["version"] == "2.8.3.post2"


def test_driver_too_old_warning_is_cuda_runtime_mismatch(tmp_path: Path) -> None:
    warning = ("CUDA initialization: The NVIDIA driver on your system is too old (found version "
               "11040). Please update your GPU driver.")
    site = fakes.write_fake_torch(tmp_path / "site", warning=warning)
    fakes.write_fake_flash_attn(site)
    rc, doc, _ = fakes.run_smoke(tmp_path, [site])
    assert rc == 1 and doc["category"] == "cuda-runtime-mismatch"
    assert "driver on your system is too old" in doc["message"]
    assert warning in doc["warnings"]


def test_bad_variant_file_is_an_error_document(tmp_path: Path) -> None:
    bad = tmp_path / "variant.json"
    bad.write_text("{not json")
    rc, doc, _ = fakes.run_smoke(tmp_path, [], "--variant-json", str(bad))
    assert rc == 1 and doc["category"] == "error"
    assert "cannot read variant file" in doc["message"]


def test_real_cpu_torch_is_no_gpu(tmp_path: Path) -> None:
    """The real torch, where installed (a CPU build here): the no-GPU path end to end."""
    torch = require_torch()
    site_packages = Path(torch.__file__).resolve().parents[1]
    rc, doc, _ = fakes.run_smoke(tmp_path, [site_packages], "--target", "l40=8.9",
                                 "--variant-json", str(variant_file(
                                     tmp_path, expect={"flash_attn": None})))
    assert rc == 1 and doc["category"] == "no-gpu"
    assert doc["environment"]["torch"] == torch.__version__
    assert doc["environment"]["cxx11_abi"] == torch.compiled_with_cxx11_abi()
    if torch.version.cuda is None:
        assert "CPU-only build" in doc["message"]


@pytest.mark.parametrize(("raises", "category", "text"), [
    ("oom", "oom", "CUDA out of memory"),
    ("runtime", "error", "RuntimeError: CUDA error: an illegal memory access"),
])
def test_exceptions_are_categorised_with_traceback(tmp_path: Path, raises: str, category: str,
                                                    text: str) -> None:
    site = fakes.write_fake_torch(tmp_path / "site", gpu_raises=raises)
    fakes.write_fake_flash_attn(site)
    rc, doc, stderr = fakes.run_smoke(tmp_path, [site])
    assert rc == 1 and doc["category"] == category
    assert text in doc["message"]
    assert "Traceback (most recent call last)" in doc["problems"][0]["traceback"]
    assert stderr.count("\n") == 1  # one summary line, no traceback on stderr
