"""`gen verify` then `gen plan --lock` end to end, every host a real loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers.github import GitHubFake, fake_wheel
from servers.http import FakeServer
from servers.pypi import PyPIFake

WHEEL = "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"

MATRIX = """\
schema_version: 1
targets:
  - name: l40
    gpu: L40
    runs_on: [self-hosted, linux, x64, gpu, l40]
bases:
  - image: pytorch/pytorch
    tags: [2.7.1-cuda12.6-cudnn9-runtime, 2.7.1-cuda12.8-cudnn9-runtime]
torch: ["2.7.1"]
flash_attn: ["2.8.3"]
strategies: [wheel, none]
include:
  - base: pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel
    strategy: wheel
    flash_attn: "2.8.3"
    wheel_url: {wheel_url}
"""


def gen(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **env}, timeout=60)


@pytest.mark.integration
def test_verify_then_plan(oci_registry, tmp_path: Path) -> None:
    github, pypi, other = GitHubFake(), PyPIFake(), FakeServer()
    try:
        github.add_release("Dao-AILab/flash-attention", "v2.8.3", {WHEEL: fake_wheel(WHEEL)})
        runtime = oci_registry.push_image("pytorch/pytorch", "2.7.1-cuda12.6-cudnn9-runtime")
        devel = oci_registry.push_image("pytorch/pytorch", "2.7.1-cuda12.6-cudnn9-devel")
        url = f"{other.url}/wheels/{WHEEL}"
        (tmp_path / "matrix.yaml").write_text(MATRIX.format(wheel_url=url))
        env = {"GEN_GITHUB_API": github.url, "GEN_GITHUB_URL": github.url,
               "GEN_PYPI_URL": pypi.url, "GEN_REGISTRY_MAP": f"docker.io={oci_registry.url}",
               "GEN_TORCH_INDEX": other.url}
        result = gen("verify", "--timeout", "2", "--time-bound", "5", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "lock written to matrix.lock.json" in result.stdout
        lock = json.loads((tmp_path / "matrix.lock.json").read_text())["resources"]
        assert lock["image:pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime"]["digest"] == runtime
        assert lock["image:pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"]["digest"] == devel
        assert lock[f"wheel:{url}"]["status"] == "missing"
        assert "[1/" in result.stderr  # plain progress lines off a terminal
        # the cuda12.8 tag was never pushed: missing (a 404 from the registry)
        assert lock["image:pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime"]["status"] == \
            "missing"

        plan = gen("plan", "--format", "json", env=env, cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        variants = {v["id"]: v for v in json.loads(plan.stdout)["variants"]}
        included = next(v for v in variants.values() if v["origin"] == "include")
        assert included["status"] == "pruned"
        reason = included["reasons"][0]
        assert reason["code"] == "resource-missing"
        assert url in reason["message"] and "HTTP 404" in reason["message"]
        assert WHEEL in reason["suggestion"]  # the verified GitHub wheel is the nearest
        gone = variants["none-pt2.7.1-cu128-py311-pytorch-runtime-l40"]
        assert gone["status"] == "pruned"
        assert "MANIFEST_UNKNOWN" in gone["reasons"][0]["message"]
        assert gone["reasons"][0]["suggestion"].startswith(
            "nearest real: pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime (verified)")
        kept = variants["wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40"]
        assert kept["status"] == "kept" and kept["unverified"] == []

        offline = gen("verify", "--offline", env={"GEN_PYPI_URL": "http://127.0.0.1:9"},
                      cwd=tmp_path)
        assert offline.returncode == 0, offline.stderr
        assert "lock unchanged (offline)" in offline.stdout
        strict = gen("verify", "--offline", "--strict", env={}, cwd=tmp_path)
        assert strict.returncode == 1
    finally:
        github.close()
        pypi.close()
        other.close()


def test_plan_with_an_absent_lock_path_is_a_user_error(tmp_path: Path, repo_root) -> None:
    result = gen("plan", "--matrix", str(repo_root / "matrix.yaml"), "--lock",
                 str(tmp_path / "nope.json"), env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "no such lock file" in result.stderr and "Traceback" not in result.stderr


def test_bad_registry_option_is_a_user_error(tmp_path: Path, repo_root) -> None:
    result = gen("verify", "--matrix", str(repo_root / "matrix.yaml"), "--registry", "nope",
                 "--offline", env={}, cwd=tmp_path)
    assert result.returncode == 2 and "HOST=http(s)://URL" in result.stderr
