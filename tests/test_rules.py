"""Every rule and reason code, with real cases from FACTS.md."""

from __future__ import annotations

import itertools

import pytest
from helpers import codes, only, plan_of

from generator import knowledge
from generator.rules import (
    REASON_CODES,
    build_archs,
    releases_with_wheel,
    wheel_filename,
    wheel_gap,
)
from generator.smoke.archs import binary_runs_on, cubin_runs_on, ptx_runs_on

PT = "pytorch/pytorch"
CUDA = "nvidia/cuda"


def test_canonical_l40_wheel_is_kept_with_exact_name():
    v = only(plan_of(), strategy="wheel")
    assert v.kept
    assert v.wheel == (
        "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl",
        "https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/"
        "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl",
    )


@pytest.mark.parametrize(("fa", "cuda", "tag"), [
    ("2.5.8", "12.1", "cu122"), ("2.5.9.post1", "11.8", "cu118"), ("2.6.3", "12.4", "cu123"),
    ("2.6.3", "11.8", "cu118"), ("2.7.4.post1", "12.6", "cu12"), ("2.8.3", "11.8", "cu11"),
])
def test_cuda_tag_rules_follow_the_release(fa, cuda, tag):
    name = wheel_filename(fa, "2.3.1", cuda, False, "3.10")
    assert name is not None and f"+{tag}torch2.3" in name


def test_cuda13_is_mis_binned_before_2_8_3_post1():
    assert wheel_filename("2.8.3", "2.9.0", "13.0", True, "3.12") is None
    assert "+cu13torch2.9" in wheel_filename("2.8.3.post1", "2.9.0", "13.0", True, "3.12")


def test_cu121_never_appears_in_an_official_wheel_name():
    fa = knowledge.flash_attn_table()
    for release, cuda, abi in itertools.product(fa.releases, ["11.8", "12.1", "12.4", "12.6"],
                                                [True, False]):
        name = wheel_filename(release, "2.4.0", cuda, abi, "3.11")
        assert name is None or "cu121" not in name


def test_torch_2_8_has_no_cu118_build():
    v = only(plan_of(bases=[{"image": PT, "tags": ["2.8.0-cuda11.8-cudnn9-devel"]}]))
    assert codes(v) == ["torch-cuda-unsupported"]
    assert "cu126, cu128, cu129" in v.reasons[0].message
    assert v.reasons[0].suggestion == (
        "use pytorch/pytorch:2.8.0-cuda12.6-cudnn9-devel (torch 2.8.0 + CUDA 12.6)")


def test_python_unsupported_by_torch():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["12.1.1-devel-ubuntu22.04"],
                             "python": ["3.12"]}], torch=["2.3.1"]))
    assert codes(v) == ["python-unsupported"]
    assert "3.8 to 3.11" in v.reasons[0].message
    assert v.reasons[0].suggestion.startswith("use Python 3.11")


def test_python_3_13_is_only_experimental_on_torch_2_5():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["12.4.1-devel-ubuntu22.04"],
                             "python": ["3.13"]}], torch=["2.5.1"]))
    assert codes(v) == ["python-unsupported"]
    assert "experimental" in v.reasons[0].message


def test_flash_attn_2_5_8_has_no_cp312_wheel():
    release = knowledge.flash_attn_table().release("2.5.8")
    code, message = wheel_gap(release, "2.3.1", "12.1", False, "3.12")
    assert code == "no-wheel" and "cp312" in message
    assert wheel_gap(release, "2.3.1", "12.1", False, "3.11") is None


def test_no_wheel_for_a_torch_minor_suggests_a_release_that_has_one():
    v = only(plan_of(flash_attn=["2.6.3"]))
    assert codes(v) == ["no-wheel"]
    assert "2.0, 2.1, 2.2, 2.3, 2.4, not 2.7" in v.reasons[0].message
    assert "flash-attn 2.8.3" in v.reasons[0].suggestion


def test_abi_trap_on_torch_2_6_cu124():
    v = only(plan_of(bases=[{"image": PT, "tags": ["2.6.0-cuda12.4-cudnn9-devel"]}]))
    assert codes(v) == ["abi-mismatch"]
    assert "undefined symbol" in v.reasons[0].message and "#1783" in v.reasons[0].message
    # the same knowledge knows a genuine ABI=0 wheel for torch 2.6: 2.7.4.post1
    assert "2.7.4.post1" in v.reasons[0].suggestion
    assert releases_with_wheel("2.6.0", "12.4", False, "3.11") == ["2.7.4.post1"]


def test_torch_2_6_cu126_is_cxx11_abi_and_takes_the_2_8_3_wheel():
    v = only(plan_of(bases=[{"image": PT, "tags": ["2.6.0-cuda12.6-cudnn9-devel"]}]))
    assert v.kept
    assert "cxx11abiTRUE" in v.wheel[0]


def test_l40_runs_sm80_code_but_not_sm90_only_code():
    assert cubin_runs_on("sm_80", "8.9")
    assert cubin_runs_on(80, (8, 6))
    assert not cubin_runs_on("sm_90", "8.9")
    assert not cubin_runs_on("sm_90a", "9.1")
    assert cubin_runs_on("sm_100f", "10.3") and not cubin_runs_on("sm_100f", "12.0")
    assert ptx_runs_on("compute_80", "12.0") and not ptx_runs_on("compute_100f", "12.0")
    assert not binary_runs_on(["sm_90"], [], "8.9")
    assert binary_runs_on(["sm_90"], ["compute_80"], "8.9")  # PTX JITs forward
    assert not ptx_runs_on("compute_90", "8.9")
    assert build_archs("8.9") == [80]
    assert build_archs("9.0") == [90]
    assert build_archs("7.5") == []


def test_wheel_built_for_sm90_only_is_arch_unsupported_on_l40(monkeypatch):
    table = knowledge.flash_attn_table()
    hopper_only = table.releases["2.8.3"]._replace(archs=(90,))
    monkeypatch.setitem(table.releases, "2.8.3", hopper_only)
    l40 = only(plan_of())
    assert codes(l40) == ["arch-unsupported"]
    assert "sm_90" in l40.reasons[0].message
    assert "FLASH_ATTN_CUDA_ARCHS=80" in l40.reasons[0].suggestion
    h100 = only(plan_of(targets=[{"name": "h100", "gpu": "H100", "runs_on": ["gpu"]}]))
    assert h100.kept


def test_turing_t4_is_arch_unsupported_but_sdpa_baseline_is_kept():
    plan = plan_of(targets=[{"name": "t4", "gpu": "T4", "runs_on": ["gpu"]}],
                   strategies=["wheel", "none"])
    assert codes(only(plan, strategy="wheel")) == ["arch-unsupported"]
    assert "strategy none" in only(plan, strategy="wheel").reasons[0].suggestion
    assert only(plan, strategy="none").kept


def test_sdist_build_on_runtime_needs_nvcc():
    v = only(plan_of(bases=[{"image": PT, "tags": ["2.7.1-cuda12.6-cudnn9-runtime"]}],
                     strategies=["pypi-sdist"]))
    assert codes(v) == ["needs-nvcc"]
    assert v.reasons[0].suggestion.startswith("use pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel")


def test_source_build_on_runtime_uses_the_devel_twin():
    v = only(plan_of(bases=[{"image": PT, "tags": ["2.7.1-cuda12.6-cudnn9-runtime"]}],
                     strategies=["source"]))
    assert v.kept
    assert v.builder.ref == "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"
    assert v.as_dict()["cuda_archs"] == "80"


def test_nvcc_too_old_for_flash_attn_2_7_plus():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["11.6.2-devel-ubuntu20.04"]}],
                     include=[{"base": "nvidia/cuda:11.6.2-devel-ubuntu20.04",
                               "torch": "2.3.1+cu118", "python": "3.10",
                               "flash_attn": "2.8.3", "strategy": "pypi-sdist"}],
                     torch=["2.3.1"], strategies=["none"]), strategy="pypi-sdist")
    assert codes(v) == ["nvcc-too-old"]
    assert "nvcc >= 11.7" in v.reasons[0].message


def test_blackwell_build_needs_nvcc_12_8():
    v = only(plan_of(targets=[{"name": "b200", "gpu": "B200", "runs_on": ["gpu"]}],
                     strategies=["pypi-sdist"]))
    assert codes(v) == ["nvcc-too-old"]
    assert "sm_100" in v.reasons[0].message


def test_cuda_major_mismatch_between_nvcc_and_torch():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["12.6.3-devel-ubuntu22.04"]}],
                     torch=["2.7.1+cu118"], strategies=["pypi-sdist"]))
    assert codes(v) == ["cuda-major-mismatch"]


def test_unknown_torch_and_unknown_flash_attn_release():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["12.6.3-devel-ubuntu22.04"]}],
                     torch=["2.7.3"]))
    assert codes(v) == ["torch-unknown"]
    plan = plan_of(flash_attn=["2.8.4"], strategies=["wheel", "pypi-sdist"])
    assert codes(only(plan, strategy="wheel")) == ["unknown-release"]
    sdist = only(plan, strategy="pypi-sdist")
    assert sdist.kept and any("not in the knowledge tables" in n for n in sdist.notes)


def test_cuda13_torch_has_no_2_8_3_wheel():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["13.0.1-devel-ubuntu24.04"]}],
                     torch=["2.9.1"]))
    assert codes(v) == ["no-wheel"]
    assert "CUDA 13" in v.reasons[0].message


def test_excluded_names_the_rule_and_line():
    plan = plan_of(strategies=["wheel", "none"], exclude=[{"strategy": "none"}])
    v = only(plan, strategy="none")
    assert codes(v) == ["excluded"]
    assert "exclude[0]" in v.reasons[0].message and "test.yaml:" in v.reasons[0].message


def test_nvidia_cuda_base_takes_matching_torch_build_and_os_python():
    v = only(plan_of(bases=[{"image": CUDA, "tags": ["12.8.1-cudnn-devel-ubuntu24.04"]}],
                     torch=["2.8.0"]))
    assert v.kept
    assert (v.candidate.torch_cuda_tag, v.candidate.python) == ("cu128", "3.12")
    assert {"kind": "torch-wheel", "project": "torch", "version": "2.8.0",
            "index": "https://download.pytorch.org/whl/cu128", "python": "cp312"} in v.resources()


def test_every_reason_code_is_documented_and_used_by_some_test():
    from pathlib import Path

    source = Path(__file__).read_text(encoding="utf-8")
    for code in REASON_CODES:
        if code in ("resource-missing", "wheel-url-mismatch"):
            continue  # produced from the lock / user URLs, tested with gen verify
        assert f'"{code}"' in source, code


def test_variant_ids_are_unique_tags_and_directory_names(repo_root):
    import re

    from generator.matrix import load_matrix
    from generator.plan import build_plan

    plan = build_plan(load_matrix(repo_root / "matrix.yaml"))
    ids = [v.id for v in plan.variants]
    assert len(ids) == len(set(ids))
    for vid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", vid)
        assert "/" not in vid
    # stable: the same matrix gives the same ids in the same order
    assert ids == [v.id for v in build_plan(load_matrix(repo_root / "matrix.yaml")).variants]
