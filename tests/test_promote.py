"""gen promote without a registry: input checks, judging, ranking, record and report.

Every smoke result here is generated from real variant ids of tests/promote_data/matrix.yaml
(two targets: l40 with H100 as a named stand-in, and a10).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from promote_data.factory import A10, H100, L40, MATRIX, build, fake_digest, smoke, write

from generator.cli import main
from generator.errors import UserError
from generator.matrix import load_matrix, parse_matrix
from generator.plan import build_plan
from generator.promote.decide import gpu_matches, judge
from generator.promote.results import load_inputs, schema_problem

PLAN = build_plan(load_matrix(MATRIX))
KEPT_L40 = [v.id for v in PLAN.kept if v.candidate.target.name == "l40"]

WHEEL_RT_271 = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40"
WHEEL_DEV_271 = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-l40"
WHEEL_DEV_280 = "wheel-fa2.8.3-pt2.8.0-cu128-py311-pytorch-devel-l40"
SOURCE_DEV_280 = "source-fa2.8.3-pt2.8.0-cu128-py311-pytorch-devel-l40"
SOURCE_RT_271 = "source-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40"
NONE_DEV_271 = "none-pt2.7.1-cu126-py311-pytorch-devel-l40"
NONE_DEV_280 = "none-pt2.8.0-cu128-py311-pytorch-devel-l40"
PRUNED = "wheel-fa2.5.9.post1-pt2.7.1-cu126-py311-pytorch-devel-l40"
A10_WHEEL = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-a10"


def test_ids_are_real_plan_ids():
    for vid in (WHEEL_RT_271, WHEEL_DEV_271, WHEEL_DEV_280, SOURCE_DEV_280, SOURCE_RT_271,
                NONE_DEV_271, NONE_DEV_280, A10_WHEEL):
        assert PLAN.get(vid) is not None and PLAN.get(vid).kept, vid
    assert PLAN.get(PRUNED) is not None and not PLAN.get(PRUNED).kept


def built(root: Path, *variants: str) -> None:
    for vid in variants:
        write(root / "build-metadata" / f"{vid}.json", build(vid, fake_digest(vid)))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["promote", "--matrix", str(MATRIX), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def decide(root: Path, target: str = "l40", matrix=None):
    plan = PLAN if matrix is None else build_plan(matrix)
    return judge(plan, plan.matrix.target(target), load_inputs([str(root)]))


def codes(decision) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in decision.rejected:
        out.setdefault(r.variant, []).append(r.code)
    return out


# ---------------------------------------------------------------- a mixed result set


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """pass, fail, device-mismatch, digest-mismatch, a stand-in pass, and a foreign id."""
    built(tmp_path, WHEEL_DEV_271, WHEEL_DEV_280, SOURCE_DEV_280, NONE_DEV_280, WHEEL_RT_271,
          SOURCE_RT_271)
    s = tmp_path / "smoke"
    write(s / "1.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), fa=101.0))
    write(s / "2.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280), fa=140.0))
    write(s / "3.json", smoke(WHEEL_DEV_280, fake_digest(WHEEL_DEV_280), status="fail",
                              category="abi-mismatch"))
    write(s / "4.json", smoke(NONE_DEV_280, fake_digest(NONE_DEV_280), gpu=A10))
    write(s / "5.json", smoke(WHEEL_RT_271, fake_digest("an older build")))
    write(s / "6.json", smoke(SOURCE_RT_271, fake_digest(SOURCE_RT_271), gpu=H100, fa=300.0))
    return tmp_path


def test_mixed_results_rank_and_reject(mixed: Path):
    d = decide(mixed)
    assert [c.id for c in d.ranking] == [WHEEL_DEV_271, SOURCE_RT_271, SOURCE_DEV_280]
    assert codes(d) == {WHEEL_DEV_280: ["failed"], NONE_DEV_280: ["device-mismatch"],
                        WHEEL_RT_271: ["digest-mismatch"]}
    failed = next(r for r in d.rejected if r.code == "failed")
    assert failed.category == "abi-mismatch"
    assert [c.decided_by[0] for c in d.ranking[:-1]] == ["strategy", "flavour"]
    assert d.ranking[0].decided_by[1] == "strategy: wheel is preferred to source"
    assert d.ranking[1].decided_by[1] == "flavour: runtime is preferred to devel"
    assert d.ranking[-1].decided_by is None
    stand_in = d.ranking[1]
    assert stand_in.stand_in and "H100" in stand_in.stand_in and "stand_ins.l40" in \
        stand_in.stand_in
    assert d.winner.build.digest == fake_digest(WHEEL_DEV_271)
    untested = {vid for vid, _ in d.untested}
    assert untested == set(KEPT_L40) - {WHEEL_DEV_271, SOURCE_RT_271, SOURCE_DEV_280,
                                        WHEEL_DEV_280, NONE_DEV_280, WHEEL_RT_271}


def test_mixed_results_cli_record_and_report(mixed: Path, tmp_path: Path, capsys):
    record = tmp_path / "out" / "canonical.json"
    code, out, err = run(capsys, str(mixed), "--target", "l40", "--record", str(record))
    assert code == 0, err
    data = json.loads(record.read_text())
    assert data["schema"] == "gen-canonical/1"
    assert data["canonical"]["variant"] == WHEEL_DEV_271
    assert data["canonical"]["digest"] == fake_digest(WHEEL_DEV_271)
    assert data["canonical"]["image"] == f"127.0.0.1:5000/gen:{WHEEL_DEV_271}"
    assert data["canonical"]["reference"] == f"127.0.0.1:5000/gen:l40@{fake_digest(WHEEL_DEV_271)}"
    assert data["canonical"]["published"] is False
    assert data["canonical"]["evidence"][0]["status"] == "pass"
    assert data["canonical"]["evidence"][0]["environment"]["gpu"]["name"] == "NVIDIA L40"
    assert [r["variant"] for r in data["ranking"]] == [WHEEL_DEV_271, SOURCE_RT_271,
                                                       SOURCE_DEV_280]
    assert {r["code"] for r in data["rejected"]} == {"failed", "device-mismatch",
                                                      "digest-mismatch"}
    # the report says what won, what it would do, why each one ranks where it does
    assert f"**Canonical image:** `{WHEEL_DEV_271}`" in out
    assert "would point `127.0.0.1:5000/gen:l40`" in out and "--push" in out
    assert "strategy: wheel is preferred to source" in out
    assert "`device-mismatch`" in out and "`failed (abi-mismatch)`" in out
    assert "`digest-mismatch`" in out
    assert "stand-in" in out and "NVIDIA H100 80GB HBM3 (cc 9.0)" in out


def test_record_is_deterministic(mixed: Path, tmp_path: Path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run(capsys, str(mixed), "--record", str(first), "--target", "l40")[0] == 0
    # the same inputs named in another order give the same bytes
    assert run(capsys, str(mixed / "smoke"), str(mixed / "build-metadata"), "--record",
               str(second), "--target", "l40")[0] == 0
    assert first.read_bytes() == second.read_bytes()


def test_summary_file_is_appended(mixed: Path, tmp_path: Path, capsys):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    code, out, _ = run(capsys, str(mixed), "--target", "l40", "--record",
                       str(tmp_path / "r.json"), "--summary", str(summary))
    assert code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "## gen promote: l40" in text
    assert f"canonical for l40: {WHEEL_DEV_271}" in out


# ---------------------------------------------------------------- ranking keys


def test_each_policy_key_decides_in_turn(tmp_path: Path):
    variants = [WHEEL_RT_271, WHEEL_DEV_280, WHEEL_DEV_271, SOURCE_DEV_280, NONE_DEV_271,
                NONE_DEV_280]
    built(tmp_path, *variants)
    perf = {WHEEL_DEV_280: 90.0, WHEEL_DEV_271: 150.0, NONE_DEV_271: 10.0, NONE_DEV_280: 20.0}
    for vid in variants:
        # strategy none ranks on SDPA: give it the figure there and a higher FA figure
        fa = 999.0 if vid.startswith("none") else perf.get(vid, 100.0)
        write(tmp_path / f"{vid}.json", smoke(vid, fake_digest(vid), fa=fa,
                                              sdpa=perf.get(vid, 50.0)))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [WHEEL_RT_271, WHEEL_DEV_280, WHEEL_DEV_271,
                                         SOURCE_DEV_280, NONE_DEV_280, NONE_DEV_271]
    whys = [c.decided_by[1] for c in d.ranking[:-1]]
    assert whys == ["flavour: runtime is preferred to devel",
                    "torch: 2.8.0 is newer than 2.7.1",
                    "strategy: wheel is preferred to source",
                    "strategy: source is preferred to none",
                    "torch: 2.8.0 is newer than 2.7.1"]
    assert d.ranking[-2].perf == 20.0  # SDPA, not the flash-attn figure


def test_perf_decides_and_ties_fall_back_to_id(tmp_path: Path):
    matrix = parse_matrix(MATRIX.read_text().replace(
        "    - torch: newest\n", ""), str(MATRIX))
    plan = build_plan(matrix)
    built(tmp_path, WHEEL_DEV_271, WHEEL_DEV_280, SOURCE_DEV_280)
    write(tmp_path / "a.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), fa=150.04))
    write(tmp_path / "b.json", smoke(WHEEL_DEV_280, fake_digest(WHEEL_DEV_280), fa=150.01))
    write(tmp_path / "c.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280), fa=120.0))
    d = judge(plan, matrix.target("l40"), load_inputs([str(tmp_path)]))
    # 150.04 and 150.01 are the same figure at 0.1 TFLOP/s: the id decides
    assert [c.id for c in d.ranking] == [WHEEL_DEV_271, WHEEL_DEV_280, SOURCE_DEV_280]
    assert d.ranking[0].decided_by == ("id", "tie on every policy key; ordered by variant id")
    # without the strategy key, perf would decide
    matrix2 = parse_matrix(MATRIX.read_text().replace("    - torch: newest\n", "").replace(
        "    - strategy: [wheel, pypi-sdist, source, none]\n", ""), str(MATRIX))
    write(tmp_path / "c.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280), fa=170.0))
    d2 = judge(build_plan(matrix2), matrix2.target("l40"), load_inputs([str(tmp_path)]))
    assert d2.ranking[0].id == SOURCE_DEV_280
    assert d2.ranking[0].decided_by == ("perf", "perf: 170.0 > 150.0 TFLOP/s")


def test_policy_that_cannot_rank_is_a_user_error(tmp_path: Path):
    matrix = parse_matrix(MATRIX.read_text().replace("strategy: [wheel, pypi-sdist, source, "
                                                     "none]", "strategy: newest"), "m.yaml")
    with pytest.raises(UserError, match=r"policy.prefer\[0\].strategy.*not versions"):
        judge(build_plan(matrix), matrix.target("l40"), load_inputs([str(_one(tmp_path))]))


def _one(root: Path) -> Path:
    built(root, WHEEL_DEV_271)
    write(root / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    return root


# ---------------------------------------------------------------- judging rules


def test_duplicates_that_agree_are_merged_on_the_lowest_perf(tmp_path: Path):
    built(tmp_path, WHEEL_DEV_271)
    write(tmp_path / "run1" / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271),
                                              fa=120.0))
    write(tmp_path / "run2" / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271),
                                              fa=110.0))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [WHEEL_DEV_271] and not d.rejected
    assert d.ranking[0].perf == 110.0 and len(d.ranking[0].results) == 2


def test_duplicates_that_disagree_reject_the_variant(tmp_path: Path, capsys):
    built(tmp_path, WHEEL_DEV_271, SOURCE_DEV_280)
    write(tmp_path / "run1" / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    write(tmp_path / "run2" / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271),
                                              status="fail", category="numerics"))
    write(tmp_path / "run1" / "t.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280)))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [SOURCE_DEV_280]
    (conflict,) = d.rejected
    assert conflict.code == "conflicting-results" and len(conflict.files) == 2
    assert "pass" in conflict.message and "fail:numerics" in conflict.message


def test_real_gpu_results_supersede_stand_in_ones(tmp_path: Path):
    built(tmp_path, WHEEL_DEV_271)
    write(tmp_path / "l40.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), fa=100.0))
    write(tmp_path / "h100.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), gpu=H100,
                                        status="fail", category="perf-floor"))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [WHEEL_DEV_271]
    assert d.ranking[0].stand_in is None and d.ranking[0].gpus == ["NVIDIA L40 (cc 8.9)"]
    assert codes(d) == {WHEEL_DEV_271: ["superseded"]}


def test_stand_in_needs_code_for_the_target_arch(tmp_path: Path):
    """An H100 run proves nothing for an L40 when the binary holds only sm_90 code."""
    built(tmp_path, WHEEL_DEV_271, SOURCE_DEV_280)
    hopper_only = smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), gpu=H100)
    hopper_only["archs"].update(sass=["sm_90"], targets={"l40": {
        "compute_capability": "8.9", "gpu": "L40", "runs": False}})
    write(tmp_path / "a.json", hopper_only)
    write(tmp_path / "b.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280), gpu=H100))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [SOURCE_DEV_280]
    assert "has code for cc 8.9" in d.ranking[0].stand_in
    (r,) = d.rejected
    assert r.code == "device-mismatch" and "archs.targets.l40.runs is false" in r.message


def test_stand_in_only_where_the_policy_names_it(tmp_path: Path):
    # target a10 (cc 8.6) names no stand-in: an H100 result is a device mismatch there
    built(tmp_path, A10_WHEEL)
    write(tmp_path / "s.json", smoke(A10_WHEEL, fake_digest(A10_WHEEL), gpu=H100))
    d = decide(tmp_path, "a10")
    assert not d.ranking
    (r,) = d.rejected
    assert r.code == "device-mismatch" and "policy.stand_ins.a10" in r.message


def test_same_cc_other_gpu_is_accepted_with_a_note(tmp_path: Path):
    built(tmp_path, WHEEL_DEV_271)
    write(tmp_path / "s.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271),
                                     gpu=("NVIDIA L4", "8.9")))
    d = decide(tmp_path)
    assert d.winner.id == WHEEL_DEV_271 and d.winner.stand_in is None
    assert any("same compute capability" in n for n in d.winner.notes)


def test_ids_outside_the_plan_pruned_and_other_target(tmp_path: Path):
    typo = WHEEL_DEV_271.replace("wheel", "whee1")
    built(tmp_path, WHEEL_DEV_271, PRUNED, A10_WHEEL, typo)
    write(tmp_path / "a.json", smoke(typo, fake_digest(typo)))
    write(tmp_path / "b.json", smoke(PRUNED, fake_digest(PRUNED)))
    write(tmp_path / "c.json", smoke(A10_WHEEL, fake_digest(A10_WHEEL), gpu=A10))
    write(tmp_path / "d.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    d = decide(tmp_path)
    assert [c.id for c in d.ranking] == [WHEEL_DEV_271]
    by = {r.variant: r for r in d.rejected}
    assert by[typo].code == "not-in-plan" and f"did you mean '{WHEEL_DEV_271}'" in \
        by[typo].message
    assert by[PRUNED].code == "not-in-plan" and "no-wheel" in by[PRUNED].message
    assert by[A10_WHEEL].code == "other-target"


def test_result_without_variant_or_digest_is_rejected(tmp_path: Path):
    built(tmp_path, WHEEL_DEV_271, SOURCE_DEV_280)
    anonymous = smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271))
    anonymous["variant"] = None
    undigested = smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280))
    undigested["image"]["digest"] = None
    write(tmp_path / "a.json", anonymous)
    write(tmp_path / "b.json", undigested)
    d = decide(tmp_path)
    assert not d.ranking
    assert codes(d) == {"(none)": ["not-in-plan"], SOURCE_DEV_280: ["digest-mismatch"]}
    assert "records no image digest" in d.rejected[1].message


def test_no_build_record_and_conflicting_build_records(tmp_path: Path):
    write(tmp_path / "s1.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    write(tmp_path / "s2.json", smoke(WHEEL_DEV_280, fake_digest(WHEEL_DEV_280)))
    write(tmp_path / "b1.json", build(WHEEL_DEV_280, fake_digest(WHEEL_DEV_280)))
    write(tmp_path / "b2.json", build(WHEEL_DEV_280, fake_digest("rebuilt")))
    d = decide(tmp_path)
    assert not d.ranking
    assert codes(d) == {WHEEL_DEV_271: ["no-build"], WHEEL_DEV_280: ["build-conflict"]}


def test_nothing_passes_exits_1_and_writes_no_record(tmp_path: Path, capsys):
    built(tmp_path, WHEEL_DEV_271, SOURCE_DEV_280)
    write(tmp_path / "a.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271),
                                     status="fail", category="oom"))
    write(tmp_path / "b.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280), gpu=None,
                                     status="fail", category="no-gpu"))
    record = tmp_path / "out" / "canonical.json"
    code, out, err = run(capsys, str(tmp_path), "--target", "l40", "--record", str(record),
                         "--push")
    assert code == 1
    assert not record.exists()
    assert "No variant passed: nothing is promoted" in out
    assert "`failed (oom)`" in out and "`failed (no-gpu)`" in out
    assert "nothing promoted" in err


# ---------------------------------------------------------------- bad input files


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    ('["a list"]', "not a gen smoke result or build record"),
    ('{"name": "package.json"}', "no 'schema' key"),
    ('{"schema": "gen-smoke/2"}', "unsupported schema 'gen-smoke/2'"),
    ('{"schema": "other/1"}', "schema 'other/1'"),
])
def test_corrupt_or_foreign_file_stops_everything(tmp_path: Path, capsys, content, message):
    _one(tmp_path / "in")
    bad = tmp_path / "in" / "zz" / "bad.json"
    bad.parent.mkdir()
    (bad.write_bytes if isinstance(content, bytes) else bad.write_text)(content)
    record = tmp_path / "canonical.json"
    code, out, err = run(capsys, str(tmp_path / "in"), "--target", "l40", "--record",
                         str(record), "--push")
    assert code == 2
    assert str(bad) in err and message in err
    assert not record.exists() and out == ""


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["image"].pop("digest"), "image: does not match the smoke schema: missing "
     "required key 'digest'"),
    (lambda d: d.pop("problems"), "does not match the smoke schema: missing required key "
     "'problems'"),
    (lambda d: d["perf"]["sdpa"].update(fwd_ms=-1.5), "perf.sdpa.fwd_ms: does not match the "
     "smoke schema: -1.5 is"),
    (lambda d: d["image"].update(digest="sha256:abc"), "is not an image digest"),
    (lambda d: d.update(status="maybe"), "status: status 'maybe' is not pass or fail"),
    (lambda d: d.update(status="fail", category="gremlins"), "unknown category 'gremlins'"),
    (lambda d: d["environment"].update(gpu=None), "environment.gpu.name: missing required"),
    (lambda d: d["perf"]["flash_attn"].update(fwd_tflops="fast"),
     "perf.flash_attn.fwd_tflops: expected a number"),
    (lambda d: d.update(variant=7), "variant: expected a string"),
])
def test_invalid_smoke_result_names_file_and_key(tmp_path: Path, capsys, change, message):
    _one(tmp_path)
    data = smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271))
    change(data)
    write(tmp_path / "s.json", data)
    code, _, err = run(capsys, str(tmp_path), "--target", "l40", "--record",
                       str(tmp_path / "r.json"))
    assert code == 2 and str(tmp_path / "s.json") in err and message in err, err
    assert not (tmp_path / "r.json").exists()


def test_missing_path_and_empty_directory(tmp_path: Path, capsys):
    code, _, err = run(capsys, str(tmp_path / "nope"), "--target", "l40")
    assert code == 2 and "nope: no such file or directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, str(tmp_path / "empty"), "--target", "l40")
    assert code == 2 and "no *.json file" in err
    write(tmp_path / "only-builds" / "b.json", build(WHEEL_DEV_271, fake_digest("x")))
    code, _, err = run(capsys, str(tmp_path / "only-builds"), "--target", "l40")
    assert code == 2 and "no smoke result" in err


def test_target_is_required_with_several_and_checked(tmp_path: Path, capsys):
    _one(tmp_path)
    code, _, err = run(capsys, str(tmp_path))
    assert code == 2 and "several targets" in err
    code, _, err = run(capsys, str(tmp_path), "--target", "l4O")
    assert code == 2 and "did you mean 'l40'" in err


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize(("reported", "wanted", "ok"), [
    ("NVIDIA H100 80GB HBM3", "H100", True),
    ("NVIDIA L40", "L40", True),
    ("NVIDIA L40S", "L40", False),
    ("NVIDIA L4", "L40", False),
    ("NVIDIA RTX 6000 Ada Generation", "RTX6000-ADA", True),
    ("NVIDIA A100-SXM4-80GB", "A100", True),
    ("NVIDIA H100 PCIe", "H200", False),
])
def test_gpu_matches(reported, wanted, ok):
    assert gpu_matches(reported, wanted) is ok


def test_schema_subset_validator():
    schema = {"type": "object", "required": ["schema", "perf"], "properties": {
        "schema": {"const": "gen-smoke/1"},
        "perf": {"type": ["object", "null"], "properties": {
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}}}},
        "status": {"$ref": "#/$defs/status"}}, "$defs": {"status": {"enum": ["pass", "fail"]}},
        "additionalProperties": False}
    assert schema_problem(schema, {"schema": "gen-smoke/1", "perf": None}) is None
    assert schema_problem(schema, {"schema": "gen-smoke/1", "perf": {"shape": [1, 0]}}) == (
        "perf.shape[1]", "0 is below 1")
    assert schema_problem(schema, {"schema": "x", "perf": None})[0] == "schema"
    assert schema_problem(schema, {"schema": "gen-smoke/1"}) == ("", "missing required key "
                                                                     "'perf'")
    assert schema_problem(schema, {"schema": "gen-smoke/1", "perf": None,
                                   "status": "meh"})[0] == "status"
    assert schema_problem(schema, {"schema": "gen-smoke/1", "perf": None, "x": 1}) == (
        "x", "unknown key")


# ---------------------------------------------------------------- the real smoke script


def test_output_of_the_real_smoke_script_is_judged(tmp_path: Path):
    """The in-image smoke script, run here (no GPU, most likely no torch), writes a
    gen-smoke/1 document that promote reads, validates and judges like any other."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "generator" / "smoke" / "smoke.py"
    (tmp_path / "variant.json").write_text(json.dumps({
        "id": WHEEL_DEV_271, "strategy": "wheel",
        "targets": [{"name": "l40", "compute_capability": "8.9"}]}))
    digest = fake_digest(WHEEL_DEV_271)
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "in" / "smoke.json"),
                    "--variant-json", str(tmp_path / "variant.json"), "--image-digest", digest,
                    "--image-ref", f"127.0.0.1:5000/gen:{WHEEL_DEV_271}"],
                   capture_output=True, text=True, timeout=120, check=False)
    built(tmp_path / "in", WHEEL_DEV_271)
    d = decide(tmp_path / "in")
    (result,) = load_inputs([str(tmp_path / "in")]).smoke
    assert result.variant == WHEEL_DEV_271 and result.digest == digest
    if result.passed:  # a machine with torch, flash-attn and an L40-class GPU
        assert [c.id for c in d.ranking] == [WHEEL_DEV_271]
    else:
        (rejection,) = d.rejected
        assert rejection.code in ("failed", "device-mismatch")
        if rejection.code == "failed":
            assert rejection.category == result.category


def test_credentials_for_reads_env_then_docker_config(tmp_path: Path):
    import base64

    from generator.promote.retag import credentials_for

    def auth(user: str, password: str) -> dict[str, str]:
        return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}

    write(tmp_path / "config.json", {"auths": {
        "https://ghcr.io": auth("bot", "ghp_x"),
        "https://index.docker.io/v1/": auth("hub", "pw"),
        "broken.example": {"auth": "%%%"}}})
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert credentials_for("ghcr.io/owner/gen", env) == {"ghcr.io": ("bot", "ghp_x")}
    assert credentials_for("owner/gen", env) == {"docker.io": ("hub", "pw")}
    assert credentials_for("broken.example/x", env) == {}
    assert credentials_for("127.0.0.1:5000/gen", env) == {}
    env.update(GEN_REGISTRY_USER="u", GEN_REGISTRY_PASSWORD="p")
    assert credentials_for("ghcr.io/owner/gen", env) == {"ghcr.io": ("u", "p")}
    assert credentials_for("ghcr.io/x", {"DOCKER_CONFIG": str(tmp_path / "none")}) == {}


def _mutations() -> list[tuple[str, object]]:
    """Smoke documents, valid and broken, to compare the two validators on."""
    def changed(fn) -> dict:
        doc = smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271))
        fn(doc)
        return doc
    return [
        ("valid pass", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271))),
        ("valid fail", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271), status="fail",
                             category="oom")),
        ("valid no gpu", smoke(WHEEL_DEV_271, None, status="fail", category="no-gpu",
                               gpu=None)),
        ("pass with a category", changed(lambda d: d.update(category="oom"))),
        ("fail without problems", changed(lambda d: d.update(status="fail",
                                                             category="oom"))),
        ("bad cc", changed(lambda d: d["environment"]["gpu"].update(compute_capability="89"))),
        ("bad sass", changed(lambda d: d["archs"].update(sass=["sm89"]))),
        ("negative perf", changed(lambda d: d["perf"]["sdpa"].update(fwd_tflops=-1))),
        ("perf not an object", changed(lambda d: d.update(perf=[]))),
        ("no environment", changed(lambda d: d.pop("environment"))),
        ("gpu a string", changed(lambda d: d["environment"].update(gpu="L40"))),
        ("unknown category", changed(lambda d: d.update(status="fail", category="x"))),
    ]


@pytest.mark.parametrize(("name", "doc"), _mutations(), ids=lambda x: x if isinstance(x, str)
                         else "")
def test_schema_subset_agrees_with_jsonschema(name, doc):
    """The dependency-free validator says yes exactly where the jsonschema package does."""
    import jsonschema

    from generator.promote.results import SMOKE_SCHEMA_FILE

    schema = json.loads(SMOKE_SCHEMA_FILE.read_text())
    expected = jsonschema.Draft202012Validator(schema).is_valid(doc)
    assert (schema_problem(schema, doc) is None) is expected, name
    assert expected is name.startswith("valid")


def test_lock_prunes_like_gen_plan(tmp_path: Path, capsys):
    """A resource the lock calls missing prunes its variant: its results are not-in-plan."""
    import shutil

    from generator.lock import Lock, LockedResource, resource_key

    matrix = tmp_path / "m" / "matrix.yaml"
    matrix.parent.mkdir()
    shutil.copy(MATRIX, matrix)
    sdist = PLAN.get(SOURCE_DEV_280).resources()[-1]
    Lock({resource_key(sdist): LockedResource("sdist", "missing", "2026-11-28T05:00:00Z",
                                              evidence="HTTP 404")}).save(
        matrix.parent / "matrix.lock.json")
    built(tmp_path / "in", SOURCE_DEV_280, WHEEL_DEV_271)
    write(tmp_path / "in" / "s.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280)))
    write(tmp_path / "in" / "w.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    code, _, err = run(capsys, str(tmp_path / "in"), "--target", "l40", "--record",
                       str(tmp_path / "r.json"), "--matrix", str(matrix))
    assert code == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["canonical"]["variant"] == WHEEL_DEV_271
    (r,) = data["rejected"]
    assert r["variant"] == SOURCE_DEV_280 and r["code"] == "not-in-plan"
    assert "resource-missing" in r["message"]
    code, _, err = run(capsys, str(tmp_path / "in"), "--target", "l40", "--lock",
                       str(tmp_path / "nope.json"))
    assert code == 2 and "no such lock file" in err


def test_report_sets_other_targets_aside(tmp_path: Path, capsys):
    """One promote job runs per target over all results: the a10 job's report lists the l40
    results only as a count, the record keeps them."""
    a10_source = A10_WHEEL.replace("wheel-", "source-")
    built(tmp_path, WHEEL_DEV_271, SOURCE_DEV_280, A10_WHEEL, a10_source)
    write(tmp_path / "a.json", smoke(WHEEL_DEV_271, fake_digest(WHEEL_DEV_271)))
    write(tmp_path / "b.json", smoke(SOURCE_DEV_280, fake_digest(SOURCE_DEV_280)))
    write(tmp_path / "c.json", smoke(A10_WHEEL, fake_digest(A10_WHEEL), gpu=A10))
    write(tmp_path / "d.json", smoke(a10_source, fake_digest(a10_source), gpu=L40))
    record = tmp_path / "r.json"
    code, out, err = run(capsys, str(tmp_path), "--target", "a10", "--record", str(record))
    assert code == 0, err
    assert f"**Canonical image:** `{A10_WHEEL}`" in out
    assert "1 passed, 1 rejected (2 results for other targets set aside)" in out
    assert WHEEL_DEV_271 not in out and "`device-mismatch`" in out
    codes_in_record = sorted(r["code"] for r in json.loads(record.read_text())["rejected"])
    assert codes_in_record == ["device-mismatch", "other-target", "other-target"]


# ---------------------------------------------------------------- properties


_OUTCOMES = ("pass", "pass-h100", "pass-a10", "fail", "stale", "none")


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_judging_properties(data):
    """Whatever the mix: every kept l40 variant lands in exactly one of ranking, rejected or
    untested; the ranking is sorted by the policy; input order changes nothing."""
    from generator.promote.decide import rank
    from generator.promote.record import record_json
    from generator.promote.results import Inputs, parse_build, parse_smoke

    smoke_docs, build_docs = [], []
    for i, vid in enumerate(KEPT_L40):
        outcome = data.draw(st.sampled_from(_OUTCOMES), label=vid)
        if outcome == "none":
            continue
        build_docs.append((f"b/{vid}.json", build(vid, fake_digest(vid))))
        perf = data.draw(st.floats(10, 500, allow_nan=False), label=f"perf {i}")
        doc = smoke(vid, fake_digest("stale" if outcome == "stale" else vid),
                    gpu={"pass-h100": H100, "pass-a10": A10}.get(outcome, L40), fa=perf,
                    sdpa=perf / 2, status="fail" if outcome == "fail" else "pass",
                    category="numerics" if outcome == "fail" else None)
        smoke_docs.append((f"s/{vid}.json", doc))
    docs = smoke_docs + build_docs
    order = data.draw(st.permutations(range(len(docs))), label="order")

    def decide_in(indexes) -> object:
        chosen = [docs[i] for i in indexes]
        smoke_in = [parse_smoke(d, n) for n, d in chosen if d["schema"] == "gen-smoke/1"]
        builds_in = [parse_build(d, n) for n, d in chosen if d["schema"] == "gen-build/1"]
        return judge(PLAN, PLAN.matrix.target("l40"),
                     Inputs(smoke_in, builds_in, [n for n, _ in chosen]))

    d = decide_in(range(len(docs)))
    ranked = [c.id for c in d.ranking]
    rejected = {r.variant for r in d.rejected}
    untested = [vid for vid, _ in d.untested]
    assert sorted(ranked + sorted(rejected) + untested) == sorted(KEPT_L40)
    assert not set(ranked) & rejected
    assert [c.id for c in rank(list(reversed(d.ranking)), PLAN.matrix)] == ranked
    assert all(c.decided_by for c in d.ranking[:-1])
    shuffled = decide_in(order)
    assert record_json(shuffled, None) == record_json(d, None)


def test_default_record_goes_to_promoted_not_generated(mixed: Path, tmp_path: Path, capsys,
                                                       monkeypatch):
    """generated/ belongs to gen render (it removes strangers): the record lives apart."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, str(mixed), "--target", "l40")
    assert code == 0, err
    assert json.loads((tmp_path / "promoted" / "l40.json").read_text())["canonical"][
        "variant"] == WHEEL_DEV_271
    assert not (tmp_path / "generated").exists()
