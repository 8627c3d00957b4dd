"""The fat-binary reader on real shared objects compiled here with nvcc (several -gencode sets,
with and without PTX), checked against the flags used and against cuobjdump."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import require, require_tool

sys.path.insert(0, str(Path(__file__).parent / "smoke_data"))
import fakes

from generator.cli import cli
from generator.smoke import fatbin

KERNEL = """
__global__ void scale(float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}
extern "C" void launch(float* x, float a, int n) { scale<<<(n + 255) / 256, 256>>>(x, a, n); }
"""

# name -> (nvcc -gencode flags, SASS archs, PTX archs) written out by hand from the flags.
BUILDS = {
    "sm80": (["arch=compute_80,code=sm_80"], ["sm_80"], []),
    "sm80_sm90_ptx90": (["arch=compute_80,code=sm_80", "arch=compute_90,code=[sm_90,compute_90]"],
                        ["sm_80", "sm_90"], ["compute_90"]),
    "sm86_sm90a_ptx75": (["arch=compute_86,code=sm_86", "arch=compute_90a,code=sm_90a",
                          "arch=compute_75,code=compute_75"], ["sm_86", "sm_90a"], ["compute_75"]),
    "ptx80": (["arch=compute_80,code=compute_80"], [], ["compute_80"]),
}

# name -> {compute capability: has code for it}, by the CUDA compatibility rules.
RUNS = {
    "sm80": {"7.5": False, "8.0": True, "8.6": True, "8.9": True, "9.0": False, "12.0": False},
    "sm80_sm90_ptx90": {"7.5": False, "8.0": True, "8.9": True, "9.0": True, "10.0": True,
                        "12.0": True},
    "sm86_sm90a_ptx75": {"7.5": True, "8.0": True, "8.6": True, "8.9": True, "9.0": True,
                         "10.0": True},
    "ptx80": {"7.5": False, "8.0": True, "8.9": True, "9.0": True},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    nvcc = require_tool("nvcc")
    folder = tmp_path_factory.mktemp("nvcc")
    src = folder / "kernel.cu"
    src.write_text(KERNEL)
    out = {}
    for name, (gencodes, _, _) in BUILDS.items():
        target = folder / f"{name}.so"
        args = [nvcc, "-shared", "-Xcompiler", "-fPIC", "-o", str(target), str(src)]
        for gencode in gencodes:
            args += ["-gencode", gencode]
        subprocess.run(args, check=True, capture_output=True, timeout=240)
        out[name] = target
    return out


pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_reader_lists_the_archs_compiled(built: dict[str, Path], name: str) -> None:
    info = fatbin.read_fatbin(built[name])
    _, sass, ptx = BUILDS[name]
    assert info.sass == sass
    assert info.ptx == ptx
    assert info.containers >= 1


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_verdicts_per_compute_capability(built: dict[str, Path], name: str) -> None:
    from generator.smoke import archs

    info = fatbin.read_fatbin(built[name])
    got = {cc: archs.binary_runs_on(info.sass, info.ptx, cc) for cc in RUNS[name]}
    assert got == RUNS[name]


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_cuobjdump_agrees(built: dict[str, Path], name: str) -> None:
    tool = fatbin.find_cuobjdump()
    require(tool is not None, "cuobjdump (test extra: nvidia-cuda-cuobjdump)")
    ours = fatbin.read_fatbin(built[name])
    sass, ptx = fatbin.cuobjdump_archs(str(built[name]), tool)
    assert (sass, ptx) == (BUILDS[name][1], BUILDS[name][2])
    assert fatbin.same_archs(ours.sass, sass) and fatbin.same_archs(ours.ptx, ptx)


def test_reader_rejects_non_elf_and_reports_no_code(tmp_path: Path) -> None:
    bogus = tmp_path / "x.so"
    bogus.write_bytes(b"not an elf file at all")
    with pytest.raises(fatbin.FatbinError):
        fatbin.read_fatbin(bogus)
    plain = fakes.gcc(tmp_path, "plain", "int f(void) { return 1; }\n")
    info = fatbin.read_fatbin(plain)  # a real ELF without device code
    assert (info.sass, info.ptx, info.containers) == ([], [], 0)


def test_gen_smoke_static(built: dict[str, Path]) -> None:
    runner = CliRunner()
    so = str(built["sm80"])
    ok = runner.invoke(cli, ["smoke", "--static", so, "--target", "l40=8.9", "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["sass"] == ["sm_80"] and doc["ptx"] == []
    assert doc["targets"]["l40"]["runs"] is True
    bad = runner.invoke(cli, ["smoke", "--static", so, "--target", "l40=8.9",
                              "--target", "h100=9.0"])
    assert bad.exit_code == 1
    assert "target h100 (cc 9.0): NO CODE" in bad.output
    assert "target l40 (cc 8.9): runs" in bad.output


def test_no_gpu_run_reads_the_real_extension(built: dict[str, Path], tmp_path: Path) -> None:
    """No GPU: the static check still reads the extension and judges every target."""
    site = tmp_path / "site"
    fakes.write_fake_torch(site)
    fakes.write_fake_flash_attn(site, ext=built["sm80"], import_ext=False)
    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--target", "l40=8.9")
    assert rc == 1
    assert (doc["status"], doc["category"]) == ("fail", "no-gpu")
    assert doc["archs"]["sass"] == ["sm_80"] and doc["archs"]["source"] == "elf"
    assert doc["archs"]["file"].endswith(f"flash_attn_2_cuda{fakes.EXT_SUFFIX}")
    assert doc["archs"]["targets"]["l40"] == {"compute_capability": "8.9", "gpu": None,
                                              "runs": True, "torch_runs": True}
    assert doc["environment"]["flash_attn"]["version"] == "2.8.3"

    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--target", "l40=8.9",
                                 "--target", "h100=9.0")
    assert rc == 1 and doc["category"] == "arch-unsupported"
    assert doc["archs"]["targets"]["h100"]["runs"] is False
    assert "h100" in doc["message"] and "sm_80" in doc["message"]
    assert {p["category"] for p in doc["problems"]} == {"arch-unsupported", "no-gpu"}
