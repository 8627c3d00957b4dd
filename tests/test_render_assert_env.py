"""The build-time assertion script copied into every image (generator/render/assert_env.py),
run against stand-in torch / flash_attn packages: pure logic, no GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "generator/render/assert_env.py"
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def fake_site(root: Path, torch: str = "2.7.1+cu126", cuda: str | None = "12.6",
              abi: bool = True, flash: str | None = None, flash_import_error: str = "") -> Path:
    site = root / "site"
    (site / "torch").mkdir(parents=True)
    (site / "torch/__init__.py").write_text(
        f"__version__ = {torch!r}\n"
        "class version:\n"
        f"    cuda = {cuda!r}\n"
        f"def compiled_with_cxx11_abi():\n    return {abi!r}\n")
    if flash:
        info = site / f"flash_attn-{flash}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: flash_attn\n"
                                       f"Version: {flash}\n")
        (site / "flash_attn").mkdir()
        body = f"raise ImportError({flash_import_error!r})\n" if flash_import_error else ""
        (site / "flash_attn/__init__.py").write_text(body)
    return site


def run(tmp_path: Path, site: Path, expect: dict, *args: str):
    variant = tmp_path / "variant.json"
    variant.write_text(json.dumps({"id": "v1", "expect": expect}))
    return subprocess.run([sys.executable, "-S", str(SCRIPT), "--variant", str(variant), *args],
                          capture_output=True, text=True, env={"PYTHONPATH": str(site)})


EXPECT = {"torch": "2.7.1", "cuda": "12.6", "python": PY, "cxx11_abi": True,
          "flash_attn": "2.8.3"}


def test_passes_when_everything_matches(tmp_path: Path):
    result = run(tmp_path, fake_site(tmp_path, flash="2.8.3"), EXPECT)
    assert result.returncode == 0, result.stderr
    assert "passed for v1" in result.stdout


@pytest.mark.parametrize(("site_args", "expect_change", "message"), [
    ({"torch": "2.6.0+cu126"}, {}, "torch 2.7.1 expected, 2.6.0+cu126 found"),
    ({"cuda": "12.4"}, {}, "torch.version.cuda is 12.4"),
    ({"cuda": None}, {}, "torch.version.cuda is None"),
    ({"abi": False}, {}, "compiled_with_cxx11_abi() is False"),
    ({}, {"python": "3.99"}, "Python 3.99 expected"),
    ({"flash": "2.7.4.post1"}, {}, "flash-attn 2.8.3 expected, 2.7.4.post1 installed"),
    ({}, {}, "flash-attn 2.8.3 expected, but it is not installed"),
    ({"flash": "2.8.3", "flash_import_error": "flash_attn_2_cuda.so: undefined symbol: _ZN3c10"},
     {}, "C++ ABI mismatch"),
    ({"flash": "2.8.3"}, {"flash_attn": None}, "expects none"),
])
def test_fails_the_build_with_a_clear_message(tmp_path: Path, site_args, expect_change,
                                              message):
    site_args = {"flash": None, **site_args}
    result = run(tmp_path, fake_site(tmp_path, **site_args), {**EXPECT, **expect_change})
    assert result.returncode == 1
    assert "build-time assertion failed for variant v1" in result.stderr
    assert message in result.stderr


def test_skip_flash_attn_checks_the_rest_before_compiling(tmp_path: Path):
    site = fake_site(tmp_path)
    assert run(tmp_path, site, EXPECT, "--skip-flash-attn").returncode == 0
    bad = run(tmp_path, site, {**EXPECT, "torch": "2.8.0"}, "--skip-flash-attn")
    assert bad.returncode == 1 and "torch 2.8.0 expected" in bad.stderr


def test_a_missing_driver_at_build_time_is_only_a_warning(tmp_path: Path):
    site = fake_site(tmp_path, flash="2.8.3",
                     flash_import_error="libcuda.so.1: cannot open shared object file")
    result = run(tmp_path, site, EXPECT)
    assert result.returncode == 0
    assert "warning: flash-attn could not be imported" in result.stderr


def test_no_torch_at_all(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(tmp_path, empty, EXPECT)
    assert result.returncode == 1 and "import failed" in result.stderr
