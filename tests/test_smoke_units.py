"""Pure logic of the smoke kernel and `gen smoke`: variant parsing, version matching, error
classification, cuobjdump parsing, docker argv, the JSON schema, and the numerics rule on CPU
where the real torch is installed."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import require_torch

from generator.cli import cli
from generator.commands import smoke_cmd
from generator.smoke import fatbin, importcheck
from generator.smoke import smoke as smoke_mod

sys.path.insert(0, str(Path(__file__).parent / "smoke_data"))
import fakes


def test_version_matching() -> None:
    vm = smoke_mod.version_matches
    assert vm("2.7.1", "2.7.1+cu126") and vm("2.7", "2.7.1+cu126") and vm("3.11", "3.11.7")
    assert vm("2.8.3", "2.8.3.post2") and vm("12.6", "12.6")
    assert not vm("2.7.1", "2.7.10") and not vm("12.6", "12.8") and not vm("3.1", "3.11.7")
    assert not vm("2.7.1+cu126", "2.7.1+cu128") and not vm("2.7", None)


def test_load_variant_merges_targets(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"id": "x", "strategy": "none",
                                "targets": [{"name": "l40", "gpu": "L40",
                                             "compute_capability": "89"}],
                                "expect": {"flash_attn": None}, "perf_floor_tflops": 100}))
    variant = smoke_mod.load_variant(str(path), ["a100=8.0", "l40=8.9"])
    assert [(t["name"], t["compute_capability"]) for t in variant["targets"]] == [
        ("l40", "8.9"), ("a100", "8.0")]
    assert variant["targets"][0]["gpu"] == "L40"
    assert variant["perf_floor_tflops"] == 100
    assert not smoke_mod.flash_attn_expected(variant)
    with pytest.raises(smoke_mod.VariantError, match="NAME=CC"):
        smoke_mod.load_variant(None, ["l40"])
    with pytest.raises(smoke_mod.VariantError, match="bad compute capability"):
        smoke_mod.load_variant(None, ["l40=eight"])


@pytest.mark.parametrize(("text", "category"), [
    ("libcudart.so.12: cannot open shared object file: No such file or directory",
     "cuda-runtime-mismatch"),
    ("libcuda.so.1: cannot open shared object file: No such file or directory",
     "cuda-runtime-mismatch"),
    ("libfoo.so: cannot open shared object file: No such file or directory", "not-installed"),
    ("/x/flash_attn_2_cuda.so: undefined symbol: _ZN3c104cuda9SetDeviceEi", "abi-mismatch"),
    ("/lib/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by x.so)",
     "abi-mismatch"),
    ("CUDA error: no kernel image is available for execution on the device", "arch-unsupported"),
    ("FlashAttention only supports Ampere GPUs or newer.", "arch-unsupported"),
    ("CUDA error: the provided PTX was compiled with an unsupported toolchain.",
     "cuda-runtime-mismatch"),
])
def test_classify_text(text: str, category: str) -> None:
    found = importcheck.classify_text(text)
    assert found is not None and found.category == category


def test_classify_unknown_and_missing_dependency() -> None:
    assert importcheck.classify_text("something else entirely") is None
    exc = ModuleNotFoundError("No module named 'einops'", name="einops")
    got = importcheck.classify_exception(exc, "flash_attn")
    assert got.category == "not-installed" and "einops" in got.message
    got = importcheck.classify_exception(ValueError("boom"), "flash_attn")
    assert got.category == "error" and "ValueError: boom" in got.message


def test_demangle() -> None:
    assert importcheck.demangle("_ZN3c104cuda9SetDeviceEi") == "c10::cuda::SetDevice(int)"
    assert importcheck.demangle("plain_c_symbol") == "plain_c_symbol"


def test_parse_cuobjdump_list() -> None:
    text = ("ELF file    1: flash_attn_2_cuda.1.sm_80.cubin\n"
            "ELF file    2: flash_attn_2_cuda.2.sm_90a.cubin\n"
            "ELF file    3: flash_attn_2_cuda.3.sm_80.cubin\n"
            "PTX file    1: flash_attn_2_cuda.1.sm_90.ptx\n"
            "cuobjdump info    : something\n")
    assert fatbin.parse_cuobjdump_list(text) == (["sm_80", "sm_90a"], ["compute_90"])
    assert fatbin.same_archs(["sm_100f"], ["sm_100"])


def test_docker_argv() -> None:
    argv = smoke_cmd.docker_command("reg.example/img:tag", "/tmp/res", "smoke.json", None,
                                    ["l40=8.9"], digest="sha256:" + "0" * 64)
    assert argv == ["docker", "run", "--rm", "--gpus", "all", "-v", "/tmp/res:/results",
                    "-e", "GEN_IMAGE_REF=reg.example/img:tag",
                    "-e", "GEN_IMAGE_DIGEST=sha256:" + "0" * 64,
                    "reg.example/img:tag", "python3", "/opt/gen/smoke/smoke.py",
                    "--out", "/results/smoke.json", "--target", "l40=8.9"]


def test_print_command_with_image_and_variant(tmp_path: Path) -> None:
    variant = tmp_path / "variant.json"
    variant.write_text("{}")
    out = tmp_path / "res" / "r.json"
    result = CliRunner().invoke(cli, ["smoke", "--image", "pytorch/pytorch:2.7.1-cuda12.6-cudnn9"
                                      "-devel", "--variant-json", str(variant), "--out",
                                      str(out), "--print-command"])
    assert result.exit_code == 0, result.output
    argv = shlex.split(result.output)
    assert argv[:5] == ["docker", "run", "--rm", "--gpus", "all"]
    assert f"{out.parent}:/results" in argv
    assert f"{variant}:/opt/gen/variant-override.json:ro" in argv
    assert argv[-4:] == ["--out", "/results/r.json", "--variant-json",
                         "/opt/gen/variant-override.json"]


def test_local_print_command() -> None:
    result = CliRunner().invoke(cli, ["smoke", "--target", "l40=8.9", "--print-command"])
    assert result.exit_code == 0
    argv = shlex.split(result.output)
    assert argv[0] == sys.executable and argv[1].endswith("generator/smoke/smoke.py")
    assert argv[2:] == ["--out", "-", "--target", "l40=8.9"]


def test_docker_missing_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no docker on PATH
    with pytest.raises(SystemExit) as exit_info:
        from generator.cli import main
        main(["smoke", "--image", "repo/img:tag", "--out", str(tmp_path / "s.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gen: error: --image: docker is not installed")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["--image", "Bad Ref"], ["--image", "-v/:/x"], ["--image", "repo/img@sha256:abc"],
    ["--target", "l40"], ["--target", "L40=8.9"], ["--static", "/nonexistent.so"],
])
def test_bad_input_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from generator.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["smoke", *args, "--print-command"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("gen: error:")


def test_local_run_writes_the_document(tmp_path: Path) -> None:
    """`gen smoke` without --image runs the script with this Python (fake torch: no GPU)."""
    site = fakes.write_fake_torch(tmp_path / "site")
    out = tmp_path / "smoke.json"
    env = {**os.environ, "PYTHONPATH": str(site)}
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "generator", "smoke", "--out", str(out),
                           "--target", "l40=8.9"], capture_output=True, text=True, env=env,
                          cwd=fakes.ROOT, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(out.read_text())
    fakes.validate(doc)
    assert doc["category"] in ("not-installed", "no-gpu")


def test_schema_rejects_inconsistent_documents(tmp_path: Path) -> None:
    import jsonschema

    site = fakes.write_fake_torch(tmp_path / "site")
    _, doc, _ = fakes.run_smoke(tmp_path, [site], "--variant-json", str(_none_variant(tmp_path)))
    fakes.validate(doc)
    for broken in ({**doc, "status": "pass"}, {**doc, "category": "flaky"},
                   {**doc, "schema": "gen-smoke/2"}, {k: v for k, v in doc.items()
                                                      if k != "archs"}):
        with pytest.raises(jsonschema.ValidationError):
            fakes.validate(broken)


def _none_variant(tmp: Path) -> Path:
    path = tmp / "none.json"
    path.write_text(json.dumps({"id": "v", "strategy": "none", "targets": [],
                                "expect": {"flash_attn": None}}))
    return path


def test_unexpected_flash_attn_is_reported_not_judged(tmp_path: Path) -> None:
    """Strategy none: a flash_attn that happens to be installed is noted, never a failure."""
    site = fakes.write_fake_torch(tmp_path / "site")
    fakes.write_fake_flash_attn(site, ext=fakes.gcc(tmp_path, "noext", "int f(void){return 0;}"),
                                import_ext=False)
    rc, doc, _ = fakes.run_smoke(tmp_path, [site], "--variant-json", str(_none_variant(tmp_path)),
                                 "--target", "l40=8.9")
    assert rc == 1 and [p["category"] for p in doc["problems"]] == ["no-gpu"]
    assert doc["archs"]["targets"]["l40"]["runs"] is None
    assert doc["environment"]["flash_attn"]["version"] == "2.8.3"
    assert doc["notes"] == ["flash_attn is installed although the variant expects none"]


def test_numerics_rule_on_cpu_torch() -> None:
    """The tolerance rule with the real torch on CPU: SDPA passes, a wrong scale fails."""
    torch = require_torch()
    from generator.smoke import numerics

    old = numerics.DEVICE
    numerics.DEVICE = "cpu"
    try:
        good = numerics.check_case(torch, numerics.sdpa_fn(torch), "bfloat16", True, 64, True, 3)
        sdpa = numerics.sdpa_fn(torch)
        bad = numerics.check_case(torch, lambda q, k, v, c: sdpa(q * 1.25, k, v, c),
                                  "bfloat16", True, 64, True, 3)
    finally:
        numerics.DEVICE = old
    assert good["ok"], good["checks"]
    assert not bad["ok"]
    worst = max(bad["checks"], key=lambda c: c["ratio"] or 0)
    assert worst["err"] > worst["bound"]


GPU_DOCS = Path(__file__).parent / "smoke_data" / "gpu"


@pytest.mark.parametrize("name", ["h200-pass", "h200-both", "h200-l40", "h200-sdpa",
                                  "h200-sdpa-absent", "h100-pass", "h100-l40"])
def test_documents_from_the_gpu_runs_fit_the_schema(name: str) -> None:
    """Real documents written on an H200 and an H100 with the sm_90-only flash-attn wheel."""
    doc = json.loads((GPU_DOCS / f"{name}.json").read_text())
    name = name.split("-", 1)[1]
    fakes.validate(doc)
    expected = {"pass": ("pass", None), "both": ("fail", "arch-unsupported"),
                "l40": ("fail", "arch-unsupported"), "sdpa": ("pass", None),
                "sdpa-absent": ("pass", None)}[name]
    assert (doc["status"], doc["category"]) == expected
    assert doc["numerics"]["passed"]
    if name in ("both", "l40"):
        assert doc["archs"]["targets"]["l40"]["runs"] is False
        assert doc["archs"]["runs_on_current"] is True
