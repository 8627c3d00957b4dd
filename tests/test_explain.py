"""gen explain: plan verdict, lock evidence and smoke outcome of one variant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from promote_data.factory import H100, MATRIX, build, fake_digest, smoke, write

from generator.cli import main
from generator.lock import Lock, LockedResource, resource_key
from generator.matrix import load_matrix
from generator.plan import build_plan

PLAN = build_plan(load_matrix(MATRIX))
WHEEL = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-l40"
SOURCE = "source-fa2.8.3-pt2.8.0-cu128-py311-pytorch-devel-l40"
WHEEL_RT = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40"
NONE = "none-pt2.7.1-cu126-py311-pytorch-devel-l40"
PRUNED = "wheel-fa2.5.9.post1-pt2.7.1-cu126-py311-pytorch-devel-l40"
WHEEL_SHA = "sha256:" + "ab" * 32


@pytest.fixture
def matrix(tmp_path: Path) -> Path:
    """The test matrix with a lock beside it: WHEEL's image and wheel verified, the
    flash-attn sdist missing (which prunes every source variant)."""
    path = tmp_path / "matrix.yaml"
    shutil.copy(MATRIX, path)
    image, wheel = PLAN.get(WHEEL).resources()
    sdist = PLAN.get(SOURCE).resources()[-1]
    assert sdist["kind"] == "sdist"
    lock = Lock({
        resource_key(image): LockedResource("image", "verified", "2026-11-28T05:00:00Z",
                                            digest="sha256:" + "cd" * 32),
        resource_key(wheel): LockedResource("wheel", "verified", "2026-11-28T05:00:01Z",
                                            url=wheel["url"], digest=WHEEL_SHA),
        resource_key(sdist): LockedResource("sdist", "missing", "2026-11-28T05:00:02Z",
                                            evidence="HTTP 404 from PyPI"),
    })
    lock.save(tmp_path / "matrix.lock.json")
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["explain", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_kept_variant_with_lock_evidence(matrix: Path, capsys):
    code, out, err = run(capsys, WHEEL, "--matrix", str(matrix))
    assert code == 0, err
    assert out.startswith(f"{WHEEL}: kept\n")
    assert "Why kept" in out
    assert "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel (devel, torch preinstalled)" in out
    assert "image default" in out  # the plan's note
    assert "verified    image:pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel" in out
    assert "sha256:" + "cd" * 32 in out
    assert "verified    wheel:https://github.com/Dao-AILab/flash-attention/releases/" in out
    assert WHEEL_SHA in out


def test_missing_resource_prunes_as_in_gen_plan(matrix: Path, capsys):
    code, out, _ = run(capsys, SOURCE, "--matrix", str(matrix))
    assert code == 0
    assert out.startswith(f"{SOURCE}: pruned\n")
    assert "resource-missing:" in out and "HTTP 404 from PyPI" in out
    assert "missing     sdist:flash-attn==2.8.3" in out


def test_resource_absent_from_the_lock_and_no_lock(matrix: Path, tmp_path: Path, capsys):
    code, out, _ = run(capsys, WHEEL_RT, "--matrix", str(matrix))
    assert code == 0
    assert out.startswith(f"{WHEEL_RT}: kept\n")
    assert "not-checked image:pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime" in out
    assert "not in the lock (run gen verify)" in out
    bare = tmp_path / "bare" / "matrix.yaml"
    bare.parent.mkdir()
    shutil.copy(MATRIX, bare)
    code, out, _ = run(capsys, SOURCE, "--matrix", str(bare))
    assert code == 0 and f"{SOURCE}: kept" in out and "there is no lock at" in out
    code, _, err = run(capsys, SOURCE, "--matrix", str(bare), "--lock",
                       str(tmp_path / "none.json"))
    assert code == 2 and "no such lock file" in err


def test_pruned_variant_shows_reasons_and_suggestion(matrix: Path, capsys):
    code, out, _ = run(capsys, PRUNED, "--matrix", str(matrix))
    assert code == 0
    assert out.startswith(f"{PRUNED}: pruned\n")
    assert "no-wheel: flash-attn 2.5.9.post1 wheels are built for torch" in out
    assert "try: use flash-attn 2.8.3" in out


def test_unknown_id_suggests_the_closest(matrix: Path, capsys):
    code, out, err = run(capsys, WHEEL.replace("l40", "l4"), "--matrix", str(matrix))
    assert code == 2 and out == ""
    assert f"did you mean '{WHEEL}'" in err and "Traceback" not in err


def _results(root: Path) -> Path:
    for vid in (WHEEL, SOURCE, NONE, WHEEL_RT):
        write(root / "build" / f"{vid}.json", build(vid, fake_digest(vid)))
    write(root / "smoke" / "w.json", smoke(WHEEL, fake_digest(WHEEL), gpu=H100))
    write(root / "smoke" / "s.json", smoke(SOURCE, fake_digest(SOURCE), fa=130.0))
    write(root / "smoke" / "n.json", smoke(NONE, fake_digest(NONE), sdpa=70.0))
    write(root / "smoke" / "r.json", smoke(WHEEL_RT, fake_digest("stale")))
    return root


def test_smoke_outcomes(matrix: Path, tmp_path: Path, capsys):
    results = str(_results(tmp_path / "results"))
    code, out, _ = run(capsys, WHEEL, "--matrix", str(matrix), "--results", results)
    assert code == 0
    assert "Promotion for l40: the winner (rank 1 of 2)." in out
    assert "stand-in: smoked on NVIDIA H100 80GB HBM3 (cc 9.0)" in out
    code, out, _ = run(capsys, NONE, "--matrix", str(matrix), "--results", results)
    assert f"rank 2 of 2, behind {WHEEL} (strategy: wheel is preferred to none)" in out
    assert "70.0 TFLOP/s" in out  # SDPA's figure for strategy none
    code, out, _ = run(capsys, WHEEL_RT, "--matrix", str(matrix), "--results", results)
    assert "Promotion for l40: rejected." in out and "digest-mismatch" in out
    assert "not the built one" in out
    code, out, _ = run(capsys, SOURCE, "--matrix", str(matrix), "--results", results)
    assert "Promotion for l40: rejected." in out
    assert "not-in-plan: the current plan prunes this variant (resource-missing)" in out
    code, out, _ = run(capsys, PRUNED, "--matrix", str(matrix), "--results", results)
    assert "no smoke result for this variant" in out


def test_json_format(matrix: Path, tmp_path: Path, capsys):
    results = str(_results(tmp_path / "results"))
    code, out, _ = run(capsys, NONE, "--matrix", str(matrix), "--results", results,
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["id"] == NONE and data["status"] == "kept"
    assert data["verified"]["lock_found"] is True
    assert data["smoke"]["verdict"]["outcome"] == "ranked"
    assert data["smoke"]["verdict"]["behind"]["variant"] == WHEEL
    assert data["smoke"]["results"][0]["perf_tflops"] == 70.0


def test_bad_results_file_is_a_user_error(matrix: Path, tmp_path: Path, capsys):
    results = _results(tmp_path / "results")
    (results / "smoke" / "broken.json").write_text("{")
    code, out, err = run(capsys, WHEEL, "--matrix", str(matrix), "--results", str(results))
    assert code == 2 and "broken.json:1: not valid JSON" in err and out == ""
