"""Helpers for the smoke tests: real shared objects built with gcc/nvcc, a stand-in `torch`
package for the no-GPU path (pure logic: is_available() is False), and a runner that copies
generator/smoke/ alone into a fake /opt/gen/smoke/ and runs it with `python -S` (no site
packages, so any `generator.` import or undeclared dependency would fail)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SMOKE_DIR = ROOT / "generator" / "smoke"
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
ABI_SYMBOL = ("_ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traits"
              "IcESaIcEEE")


def schema() -> dict[str, Any]:
    return json.loads((SMOKE_DIR / "smoke.schema.json").read_text())


def validate(doc: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(schema()).validate(doc)


def write_fake_torch(root: Path, *, version: str = "2.7.1+cu126", cuda: str | None = "12.6",
                     abi: bool = True, arch_flags: str = "sm_80 sm_86 sm_90",
                     warning: str | None = None) -> Path:
    pkg = root / "torch"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""\
        # Stand-in torch for the smoke tests: a CUDA build on a machine without a GPU.
        import warnings
        __version__ = {version!r}

        class version:
            cuda = {cuda!r}

        def compiled_with_cxx11_abi():
            return {abi!r}

        class _C:
            @staticmethod
            def _cuda_getArchFlags():
                return {arch_flags!r}

        class cuda:
            class OutOfMemoryError(RuntimeError):
                pass

            @staticmethod
            def is_available():
                if {warning!r}:
                    warnings.warn({warning!r}, UserWarning)
                return False
        """))
    return root


def write_fake_flash_attn(root: Path, *, version: str = "2.8.3", ext: Path | None = None,
                          layout: str = "top-level", import_ext: bool = True) -> Path:
    """flash_attn/__init__.py importing flash_attn_2_cuda, with `ext` placed as the extension
    (import_ext=False: placed for the static check only, never loaded)."""
    pkg = root / "flash_attn"
    pkg.mkdir(parents=True, exist_ok=True)
    body = ""
    if ext is not None and layout == "top-level":  # where pip puts the real one
        shutil.copy(ext, root / f"flash_attn_2_cuda{EXT_SUFFIX}")
        body = "import flash_attn_2_cuda\n"
    elif ext is not None:
        shutil.copy(ext, pkg / f"flash_attn_2_cuda{EXT_SUFFIX}")
        body = "from . import flash_attn_2_cuda\n"
    if not import_ext:
        body = ""
    (pkg / "__init__.py").write_text(f"__version__ = {version!r}\n{body}")
    return root


def gcc(tmp: Path, name: str, source: str, *args: str) -> Path:
    src = tmp / f"{name}.c"
    src.write_text(source)
    out = tmp / f"{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src), *args], check=True,
                   capture_output=True)
    return out


def abi_mismatch_so(tmp: Path) -> Path:
    """An extension whose init calls a C++ symbol no loaded library defines."""
    return gcc(tmp, "abi_ext", textwrap.dedent(f"""\
        extern void {ABI_SYMBOL}(void);
        void *PyInit_flash_attn_2_cuda(void) {{ {ABI_SYMBOL}(); return 0; }}
        """))


def missing_cudart_so(tmp: Path) -> Path:
    """An extension linked against libcudart.so.99, whose stub is deleted after linking."""
    stub_dir = tmp / "stub"
    stub_dir.mkdir()
    stub = gcc(stub_dir, "libcudart", "int cudaRuntimeGetVersion(int *v) { *v = 99000; "
               "return 0; }\n", "-Wl,-soname,libcudart.so.99")
    stub = stub.rename(stub_dir / "libcudart.so.99")
    ext = gcc(tmp, "cudart_ext", textwrap.dedent("""\
        int cudaRuntimeGetVersion(int *v);
        void *PyInit_flash_attn_2_cuda(void) { int v; cudaRuntimeGetVersion(&v); return 0; }
        """), str(stub))
    shutil.rmtree(stub_dir)
    return ext


def run_smoke(tmp: Path, pythonpath: list[Path], *args: str, isolated: bool = True,
              env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """Copy generator/smoke alone to TMP/opt/gen/smoke and run smoke.py there."""
    image_dir = tmp / "opt" / "gen" / "smoke"
    if not image_dir.exists():
        shutil.copytree(SMOKE_DIR, image_dir, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / "results" / "smoke.json"
    if out.exists():
        out.unlink()
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GEN_"))}
    run_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    run_env.update(env or {})
    cmd = [sys.executable, *(["-S"] if isolated else []), str(image_dir / "smoke.py"),
           "--out", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=tmp,
                          timeout=240, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert out.is_file(), proc.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    return proc.returncode, doc, proc.stderr
