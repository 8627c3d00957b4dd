"""Turn a kept variant (plus the lock's pins) into the plain data the templates render.

Everything a template prints comes from here: strings that passed `generator.grammar`
when the matrix loaded, values computed from the knowledge tables, and digests from the
lock. `guard.check` runs over the finished context before any template sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from generator import knowledge
from generator.lock import Lock
from generator.matrix import Matrix
from generator.plan import Variant
from generator.render import lockuse
from generator.render.pins import pip_pin
from generator.rules import build_archs

SMOKE_DIR = "/opt/gen/smoke"
VARIANT_JSON = "/opt/gen/variant.json"
ASSERT_SCRIPT = "/opt/gen/assert_env.py"
# Support files every image copies, written by gen render under <out>/_support/ so that
# generated/ is a self-contained build context input for any repository, not only gen's.
SUPPORT_DIR = "_support"


def assert_src(out_dir: str) -> str:
    return f"{out_dir}/{SUPPORT_DIR}/assert_env.py"


def smoke_src(out_dir: str) -> str:
    return f"{out_dir}/{SUPPORT_DIR}/smoke"

VENV = "/opt/venv"
LABEL_PREFIX = "gen.variant"


@dataclass
class Options:
    """How this render was asked for; printed in every header."""

    matrix: str = "matrix.yaml"
    lock: str = "matrix.lock.json"
    lock_found: bool = False
    allow_unverified: bool = False
    out_dir: str = "generated"

    @property
    def command(self) -> str:
        parts = ["gen", "render"]
        if self.matrix != "matrix.yaml":
            parts += ["--matrix", self.matrix]
        if self.lock != "matrix.lock.json":
            parts += ["--lock", self.lock]
        if self.allow_unverified:
            parts.append("--allow-unverified")
        return " ".join(parts)


@dataclass
class VariantContext:
    id: str
    data: dict[str, Any]  # what the Dockerfile template renders
    variant_json: dict[str, Any]  # /opt/gen/variant.json
    unverified: list[str] = field(default_factory=list)

    @property
    def dir(self) -> str:
        return self.data["dir"]


def _image(ref: str, digest: str | None) -> dict[str, Any]:
    return {"ref": ref, "digest": digest, "from": f"{ref}@{digest}" if digest else ref}


def _python_setup(v: Variant, dev: bool) -> dict[str, Any] | None:
    """How to get Python on a base without one: the OS python3, or deadsnakes."""
    c = v.candidate
    if c.base.torch:
        return None
    os_python = c.base.python
    if c.python == os_python:
        packages = ["python3", "python3-venv"] + (["python3-dev"] if dev else [])
        return {"deadsnakes": False, "packages": packages, "exe": "python3"}
    exe = f"python{c.python}"
    packages = [exe, f"{exe}-venv"] + ([f"{exe}-dev"] if dev else [])
    return {"deadsnakes": True, "packages": packages, "exe": exe}


def _torch(v: Variant, lock: Lock, pins: dict[str, str | None]) -> dict[str, Any] | None:
    """torch to pip-install on a base without it: exact version from the PyTorch index."""
    c = v.candidate
    if c.base.torch:
        return None
    index = knowledge.torch_table().index_url.format(cuda_tag=c.torch_cuda_tag)
    url = lockuse.torch_wheel_url(v, lock)
    wheel = None
    if url and pins.get("torch_sha256"):
        wheel = {"url": url, "name": unquote(url.rsplit("/", 1)[-1]),
                 "sha256": pins["torch_sha256"]}
    return {"version": c.torch, "index": index, "wheel": wheel}


def build_context(v: Variant, matrix: Matrix, lock: Lock, opts: Options) -> VariantContext:
    c = v.candidate
    pins = lockuse.pins(v, lock)
    fa = knowledge.flash_attn_table()
    strategy = c.strategy
    archs = ";".join(map(str, build_archs(c.target.compute_capability)))
    flash: dict[str, Any] | None = None
    if strategy != "none" and c.flash_attn:
        flash = {"version": c.flash_attn, "pypi": fa.pypi_project,
                 "runtime_deps": [pip_pin("einops")]}
        if strategy == "wheel":
            wheel = v.wheel
            assert wheel is not None  # a kept wheel variant always has one
            flash["wheel"] = {"name": wheel[0], "url": wheel[1], "sha256": pins["wheel_sha256"]}
        else:
            py = c.python_tag
            flash.update({
                "sdist_sha256": pins["sdist_sha256"],
                "build_requires": [pip_pin(name) for name in fa.build_requires],
                # setup.py's own switches; FORCE_BUILD: never let it guess a wheel URL
                "env": [(fa.build_env["force_build"], "TRUE"),
                        (fa.build_env["cuda_archs"], archs),
                        (fa.build_env["max_jobs"], str(matrix.max_jobs)),
                        (fa.build_env["nvcc_threads"], str(matrix.nvcc_threads))],
                "built_wheel": f"flash_attn-{c.flash_attn}-{py}-{py}-linux_x86_64.whl",
            })
    builder = None
    if strategy == "source":
        assert v.builder is not None
        builder = _image(v.builder.ref, pins["builder_digest"])
        builder["python"] = _python_setup(v, dev=True)
    torch = _torch(v, lock, pins)
    base = _image(c.base.ref, pins["image_digest"])
    base["python"] = _python_setup(v, dev=strategy == "pypi-sdist")
    out_dir = opts.out_dir
    expect = {"torch": c.torch, "cuda": c.torch_cuda, "python": c.python,
              "cxx11_abi": c.cxx11_abi, "flash_attn": c.flash_attn if flash else None}
    unverified = list(v.unverified)  # recorded by lockuse.apply_lock
    labels = _labels(v, base, expect, unverified)
    data = {
        "id": v.id,
        "dir": f"{out_dir}/{v.id}",
        "strategy": strategy,
        "target": {"name": c.target.name, "gpu": c.target.gpu,
                   "cc": c.target.compute_capability},
        "base": base,
        "builder": builder,
        "torch": torch,
        "python": c.python,
        "venv": VENV,
        "flash": flash,
        "expect": expect,
        "labels": labels,
        "notes": _header_notes(v),
        "unverified": unverified,
        "command": opts.command,
        "bake": f"{out_dir}/docker-bake.json",
        "matrix": opts.matrix,
        "lock": opts.lock if opts.lock_found else f"{opts.lock} (absent)",
        "paths": {"smoke": SMOKE_DIR, "variant_json": VARIANT_JSON,
                  "assert": ASSERT_SCRIPT, "assert_src": assert_src(out_dir),
                  "smoke_src": smoke_src(out_dir),
                  "variant_json_src": f"{out_dir}/{v.id}/variant.json"},
    }
    variant_json = {
        "id": v.id,
        "strategy": strategy,
        "targets": [{"name": c.target.name, "gpu": c.target.gpu,
                     "compute_capability": c.target.compute_capability}],
        "expect": expect,
        "perf_floor_tflops": c.target.perf_floor_tflops,
    }
    return VariantContext(v.id, data, variant_json, unverified)


# Notes lockcheck adds for unverified resources: the header lists those resources itself,
# and their text quotes HTTP evidence, which has no place in a Dockerfile.
_LOCK_NOTES = ("unverified ", "renders only with --allow-unverified")


def _header_notes(v: Variant) -> list[str]:
    return [n for n in v.notes if not n.startswith(_LOCK_NOTES)]


def _labels(v: Variant, base: dict[str, Any], expect: dict[str, Any],
            unverified: list[str]) -> list[tuple[str, str]]:
    c = v.candidate
    fa = f" + flash-attn {expect['flash_attn']}" if expect["flash_attn"] else ""
    labels = [
        ("org.opencontainers.image.title", f"gen {v.id}"),
        ("org.opencontainers.image.description",
         f"PyTorch {c.torch} (CUDA {c.torch_cuda}, Python {c.python}){fa} for "
         f"{c.target.gpu}, strategy {c.strategy}"),
        ("org.opencontainers.image.base.name", base["ref"]),
    ]
    if base["digest"]:
        labels.append(("org.opencontainers.image.base.digest", base["digest"]))
    axes = [("id", v.id), ("target", c.target.name), ("gpu", c.target.gpu),
            ("compute-capability", c.target.compute_capability), ("strategy", c.strategy),
            ("torch", c.torch), ("cuda", c.torch_cuda), ("python", c.python),
            ("cxx11-abi", json.dumps(expect["cxx11_abi"])),
            ("flash-attn", expect["flash_attn"] or "none"),
            ("verified", "false" if unverified else "true")]
    return labels + [(f"{LABEL_PREFIX}.{k}", val) for k, val in axes]
