"""Every rendered file passes the linters a reviewer would run: hadolint, zizmor, the
GitHub workflow JSON schema, and shellcheck on each `run:` block."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import require_tool
from render_helpers import SMALL_MATRIX, render_small

from generator.matrix import load_matrix, parse_matrix
from generator.plan import build_plan
from generator.render import engine
from generator.render.context import Options

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    return require_tool(name, str(BIN / name))


@pytest.fixture(scope="module")
def default_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default matrix rendered as the repository commits it (nothing verified)."""
    root = tmp_path_factory.mktemp("default")
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "generator", "render", "--matrix",
                             str(repo / "matrix.yaml"), "--lock", str(root / "none.json"),
                             "--root", str(root), "--allow-unverified"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def locked_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small matrix with every resource pinned (FROM @sha256, ADD --checksum...)."""
    root = tmp_path_factory.mktemp("locked")
    rendered = render_small()
    for rel, text in rendered.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def big_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven targets: more than GitHub's 256 jobs a matrix, so the workflow is split."""
    root = tmp_path_factory.mktemp("big")
    repo = Path(__file__).resolve().parent.parent
    text = (repo / "matrix.yaml").read_text()
    targets = "targets:\n" + "".join(
        f"  - name: t{i}\n    gpu: L40\n    runs_on: [self-hosted, gpu, t{i}]\n"
        for i in range(7))
    text = re.sub(r"targets:\n(  .*\n)+", targets, text, count=1)
    matrix = parse_matrix(text, "matrix.yaml")
    rendered = engine.render(build_plan(matrix), matrix, load_lock_none(),
                             Options(allow_unverified=True))
    assert len(rendered.variants) > engine.MATRIX_CHUNK
    path = root / engine.WORKFLOW
    path.parent.mkdir(parents=True)
    path.write_text(rendered.files[engine.WORKFLOW])
    return root


def load_lock_none():
    from generator.lock import Lock

    return Lock()


ROOTS = ["default_render", "locked_render"]


@pytest.mark.parametrize("which", ROOTS)
def test_hadolint_has_nothing_to_say(which: str, request: pytest.FixtureRequest):
    root = request.getfixturevalue(which)
    hadolint = tool("hadolint")
    files = sorted(str(p) for p in (root / "generated").glob("*/Dockerfile"))
    assert files
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "NO_COLOR": "1"}  # shellcheck for RUN lines
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style",
                             *files], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + \
        result.stderr


@pytest.mark.parametrize("which", [*ROOTS, "big_render"])
def test_zizmor_offline_finds_nothing(which: str, request: pytest.FixtureRequest):
    root = request.getfixturevalue(which)
    zizmor = tool("zizmor")
    result = subprocess.run([zizmor, "--offline", "--persona", "pedantic", "--no-progress",
                             str(root / engine.WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.parametrize("which", [*ROOTS, "big_render"])
def test_workflow_matches_the_github_schema(which: str, request: pytest.FixtureRequest):
    root = request.getfixturevalue(which)
    checker = tool("check-jsonschema")
    result = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows",
                             str(root / engine.WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def run_blocks(workflow: dict) -> list[tuple[str, dict[str, str], str]]:
    """(where, env, script) of every run: step, with the env visible to it."""
    out = []
    top = workflow.get("env", {})
    for job_id, job in workflow["jobs"].items():
        for i, step in enumerate(job["steps"]):
            if "run" in step:
                env = {**top, **job.get("env", {}), **step.get("env", {})}
                out.append((f"{job_id}.steps[{i}]", env, step["run"]))
    return out


@pytest.mark.parametrize("which", ROOTS)
def test_shellcheck_every_run_block(which: str, request: pytest.FixtureRequest,
                                    tmp_path: Path):
    root = request.getfixturevalue(which)
    shellcheck = tool("shellcheck")
    workflow = yaml.safe_load((root / engine.WORKFLOW).read_text())
    blocks = run_blocks(workflow)
    assert len(blocks) >= 6
    for where, env, script in blocks:
        assert "${{" not in script, where
        # GitHub runs `bash -e {0}` with the step's env: set; declare those variables (their
        # values are expressions GitHub fills in) so shellcheck checks the script itself.
        header = "#!/bin/bash\nset -eo pipefail\n" + "".join(
            f"{name}=placeholder\nexport {name}\n" for name in env)
        path = tmp_path / (where.replace("[", "_").replace("]", "") + ".sh")
        path.write_text(header + script)
        result = subprocess.run([shellcheck, "--severity=style", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{where}:\n{result.stdout}"


def test_big_matrix_is_split_across_jobs(big_render: Path):
    workflow = yaml.safe_load((big_render / engine.WORKFLOW).read_text())
    jobs = workflow["jobs"]
    builds = [j for j in jobs if j.startswith("build")]
    assert builds == ["build-1", "build-2"]
    total = 0
    for name in builds:
        include = jobs[name]["strategy"]["matrix"]["include"]
        assert 0 < len(include) <= engine.MATRIX_CHUNK
        total += len(include)
    smokes = [j for j in jobs if j.startswith("smoke")]
    assert smokes == ["smoke-1", "smoke-2"]
    assert jobs["smoke-2"]["needs"] == "build-2"
    promotes = [j for j in jobs if j.startswith("promote-")]
    assert len(promotes) == 7
    matrix = load_matrix(Path(__file__).resolve().parent.parent / "matrix.yaml")
    assert total == 7 * len(build_plan(matrix).kept)


def test_small_matrix_still_parses():
    assert parse_matrix(SMALL_MATRIX).targets[0].name == "l40"
