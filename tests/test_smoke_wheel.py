"""The real flash-attn wheel from ../shared/gpu (built for sm_90 only), judged without a GPU:
the static check must say it cannot run on an L40 (cc 8.9)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, require

sys.path.insert(0, str(Path(__file__).parent / "smoke_data"))
import fakes

from generator.smoke import archs, fatbin

WHEELS = sorted((ROOT.parent / "shared" / "gpu").glob("flash_attn-*.whl"))

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(bool(WHEELS), "the flash-attn wheel in ../shared/gpu")
    folder = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(WHEELS[0]) as wheel:
        member = next(n for n in wheel.namelist() if n.startswith("flash_attn_2_cuda"))
        return Path(wheel.extract(member, folder))


def test_wheel_carries_sm90_only(extension: Path) -> None:
    info = fatbin.read_fatbin(extension)
    assert (info.sass, info.ptx) == (["sm_90"], [])
    assert not archs.binary_runs_on(info.sass, info.ptx, "8.9")
    assert archs.binary_runs_on(info.sass, info.ptx, "9.0")
    tool = fatbin.find_cuobjdump()
    if tool:
        assert fatbin.cuobjdump_archs(str(extension), tool) == (["sm_90"], [])


def test_smoke_without_gpu_judges_the_wheel_arch_unsupported_for_l40(extension: Path,
                                                                      tmp_path: Path) -> None:
    site = fakes.write_fake_torch(tmp_path / "site", version="2.11.0+cu130", cuda="13.0")
    fakes.write_fake_flash_attn(site, version="2.8.3.post2", ext=extension, import_ext=False)
    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--target", "l40=8.9", "--target",
                                 "h100=9.0")
    assert rc == 1 and doc["category"] == "arch-unsupported"
    assert doc["archs"]["targets"]["l40"]["runs"] is False
    assert doc["archs"]["targets"]["h100"]["runs"] is True
    assert doc["message"] == "flash_attn has no code for target l40 (cc 8.9): SASS sm_90, PTX none"
