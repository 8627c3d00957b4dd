"""Each strategy's Dockerfile does what it claims, shown without Docker: golden files, and
a parse (dockerfile-parse) that checks stages, FROM pins, the arch list and pip flags."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from render_helpers import GOLDEN, SMALL_MATRIX, full_lock, render_small

from generator.matrix import parse_matrix
from generator.plan import build_plan
from generator.render.pins import PIP_PINS
from generator.rules import build_archs

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def rendered():
    return render_small()


@pytest.fixture(scope="module")
def plan():
    return build_plan(parse_matrix(SMALL_MATRIX))


def dockerfile(rendered, strategy: str) -> str:
    return rendered.files[f"generated/{GOLDEN[strategy]}/Dockerfile"]


@pytest.mark.parametrize("strategy", sorted(GOLDEN))
def test_golden(strategy: str, rendered, update_golden: bool):
    path = GOLDEN_DIR / f"{strategy}.Dockerfile"
    text = dockerfile(rendered, strategy)
    if update_golden:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing: run pytest --update-golden and review it"
    assert text == path.read_text(), (
        f"{strategy} Dockerfile differs from {path}; if the change is intended, run "
        "pytest tests/test_render_dockerfiles.py --update-golden and review the diff")


class Stage:
    def __init__(self, name: str | None, image: str) -> None:
        self.name, self.image = name, image
        self.items: list[dict] = []

    def of(self, instruction: str) -> list[str]:
        return [i["value"] for i in self.items if i["instruction"] == instruction]

    def env(self) -> dict[str, str]:
        out = {}
        for value in self.of("ENV"):
            for word in shlex.split(value):
                key, _, val = word.partition("=")
                out[key] = val
        return out


def stages(text: str) -> list[Stage]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    out: list[Stage] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            words = item["value"].split()
            out.append(Stage(words[2] if len(words) == 3 else None, words[0]))
        elif out:
            out[-1].items.append(item)
    assert parser.structure[0]["instruction"] == "COMMENT"
    assert text.startswith("# syntax=docker/dockerfile:1\n")
    return out


def pip_runs(stage: Stage) -> list[str]:
    return [r for r in stage.of("RUN") if " -m pip " in r]


def assert_common_final(stage: Stage, vid: str) -> None:
    assert stage.name == "final"
    copies = stage.of("COPY")
    assert f"generated/{vid}/variant.json /opt/gen/variant.json" in copies
    assert "generated/_support/smoke/ /opt/gen/smoke/" in copies
    runs = stage.of("RUN")
    assert runs[-1].endswith("python3 /opt/gen/assert_env.py")  # after every install
    for run in pip_runs(stage):
        assert "--mount=type=cache,target=/root/.cache/pip" in run or "--no-cache-dir" in run
    labels = " ".join(stage.of("LABEL"))
    assert f'gen.variant.id="{vid}"' in labels
    assert 'org.opencontainers.image.base.name="' in labels
    assert 'org.opencontainers.image.base.digest="sha256:' in labels


def test_wheel_strategy(rendered, plan):
    vid = GOLDEN["wheel"]
    v = plan.get(vid)
    lock = full_lock()
    name, url = v.wheel
    all_stages = stages(dockerfile(rendered, "wheel"))
    assert [s.name for s in all_stages] == ["torch-wheel", "flash-attn-wheel", "final"]
    _torch_stage, wheel_stage, final = all_stages
    assert wheel_stage.image == "scratch"
    sha = lock.get({"kind": "wheel", "url": url}).sha256
    assert wheel_stage.of("ADD") == [f"--checksum=sha256:{sha} {url} /wheels/{name}"]
    assert final.image == f"{v.candidate.base.ref}@sha256:" + final.image.split("@sha256:")[1]
    install = pip_runs(final)
    assert any("--mount=type=bind,from=torch-wheel" in r and "--index-url "
               "https://download.pytorch.org/whl/cu126" in r for r in install)
    fa = [r for r in install if "from=flash-attn-wheel" in r]
    assert len(fa) == 1 and "--no-deps" in fa[0] and fa[0].endswith(f"/{name}")
    assert f"einops=={PIP_PINS['einops']}" in fa[0]
    assert "apt-get install" in final.of("RUN")[0] and "python3-venv" in final.of("RUN")[0]
    assert "python3-dev" not in final.of("RUN")[0]  # nothing compiles here
    assert_common_final(final, vid)


def test_pypi_sdist_strategy(rendered, plan):
    vid = GOLDEN["pypi-sdist"]
    v = plan.get(vid)
    (final,) = stages(dockerfile(rendered, "pypi-sdist"))
    assert final.image.startswith(f"{v.candidate.base.ref}@sha256:")
    env = final.env()
    assert env["FLASH_ATTENTION_FORCE_BUILD"] == "TRUE"
    assert env["FLASH_ATTN_CUDA_ARCHS"] == ";".join(map(str, build_archs("8.9"))) == "80"
    assert env["MAX_JOBS"] == "3" and env["NVCC_THREADS"] == "2"
    runs = pip_runs(final)
    deps, build = runs[0], runs[1]
    for name in ("packaging", "wheel", "ninja", "psutil"):
        assert f"{name}=={PIP_PINS[name]}" in deps  # build deps first, pinned
    for flag in ("--no-build-isolation", "--no-deps", "--no-binary flash-attn",
                 "--no-cache-dir", "--require-hashes -r /tmp/flash-attn.txt"):
        assert flag in build
    sha = full_lock().get({"kind": "sdist", "project": "flash-attn", "version": "2.8.3"}).sha256
    assert f"flash-attn==2.8.3 --hash=sha256:{sha}" in build
    assert build.index("--skip-flash-attn") < build.index("pip install")  # fail fast
    assert_common_final(final, vid)


def test_source_strategy(rendered, plan):
    vid = GOLDEN["source"]
    v = plan.get(vid)
    build, final = stages(dockerfile(rendered, "source"))
    assert build.name == "build"
    assert build.image.startswith(f"{v.builder.ref}@sha256:") and "-devel@" in build.image
    assert final.image.startswith(f"{v.candidate.base.ref}@sha256:")
    assert "-runtime@" in final.image
    env = build.env()
    assert env["FLASH_ATTN_CUDA_ARCHS"] == "80" and env["FLASH_ATTENTION_FORCE_BUILD"] == "TRUE"
    wheel_build = [r for r in pip_runs(build) if " pip wheel " in r]
    assert len(wheel_build) == 1
    assert "--wheel-dir /wheels" in wheel_build[0] and "--no-build-isolation" in wheel_build[0]
    assert not any(k.startswith(("FLASH_ATTN", "MAX_JOBS")) for k in final.env())
    copy_in = [r for r in pip_runs(final) if "from=build" in r]
    assert len(copy_in) == 1
    assert re.search(r"--mount=type=bind,from=build,source=/wheels,target=\S+", copy_in[0])
    assert copy_in[0].endswith("flash_attn-2.8.3-cp311-cp311-linux_x86_64.whl")
    assert not any("from=build" in c for c in final.of("COPY"))  # only the wheel crosses
    assert_common_final(final, vid)


def test_none_strategy(rendered, plan):
    vid = GOLDEN["none"]
    (final,) = stages(dockerfile(rendered, "none"))
    assert pip_runs(final) == []
    assert "flash" not in " ".join(final.of("RUN")).lower()
    assert_common_final(final, vid)


def test_builder_for_a_plain_cuda_base_installs_python_headers():
    rendered = render_small()
    vid = "source-fa2.8.3-pt2.7.1-cu126-py310-cuda12.6.3-cudnn-devel-ubuntu22.04-l40"
    torch_wheel, build, final = stages(rendered.files[f"generated/{vid}/Dockerfile"])
    assert torch_wheel.image == "scratch" and len(torch_wheel.of("ADD")) == 1
    assert "python3-dev" in build.of("RUN")[0]
    assert "python3-dev" not in final.of("RUN")[0]
    assert build.env()["PATH"].startswith("/opt/venv/bin:")


def test_another_python_comes_from_deadsnakes():
    text = SMALL_MATRIX.replace("tags: [12.6.3-cudnn-devel-ubuntu22.04]",
                                "tags: [12.6.3-cudnn-devel-ubuntu22.04]\n    python: ['3.12']")
    rendered = render_small(matrix_text=text, lock=full_lock(text))
    vid = "none-pt2.7.1-cu126-py312-cuda12.6.3-cudnn-devel-ubuntu22.04-l40"
    _, final = stages(rendered.files[f"generated/{vid}/Dockerfile"])
    apt = final.of("RUN")[0]
    assert "ppa:deadsnakes/ppa" in apt and "python3.12-venv" in apt
    assert "python3.12 -m venv /opt/venv" in apt
