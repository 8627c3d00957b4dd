#!/usr/bin/env python3
"""The in-image smoke test: environment, imports, static arch check, numerics, performance.

    python3 /opt/gen/smoke/smoke.py --out /results/smoke.json

Uses only the standard library, torch and flash_attn (both imported inside functions), so this
folder runs when copied alone into an image. Writes one JSON document (schema "gen-smoke/1",
smoke.schema.json beside this file) and exits 0 on pass, 1 on fail, 2 on bad arguments.

Categories (the worst problem found names the failure; every problem is listed in "problems"):
  not-installed          torch / flash_attn (or a Python module they need) missing
  abi-mismatch           the loader found an undefined symbol (demangled) or symbol version
  cuda-runtime-mismatch  a CUDA library missing, or the driver too old for the runtime
  version-mismatch       an installed version differs from the variant's "expect" entry
  arch-unsupported       the extension has no SASS/PTX for the current GPU or for a target
                         GPU of the variant (every declared target must be runnable, even when
                         the current GPU is fine)
  no-gpu                 torch sees no CUDA GPU (the static checks still run and are reported)
  oom                    torch.cuda.OutOfMemoryError
  error                  any other exception (type, message and traceback in the JSON)
  numerics               an error above flash-attention's test rule (worst case reported)
  perf-floor             forward TFLOP/s below the variant's perf_floor_tflops
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any

try:  # imported as generator.smoke.smoke
    from . import archs, fatbin, importcheck
except ImportError:  # run as a script: siblings sit beside this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import archs  # type: ignore[no-redef]
    import fatbin  # type: ignore[no-redef]
    import importcheck  # type: ignore[no-redef]

SCHEMA = "gen-smoke/1"
DEFAULT_VARIANT = "/opt/gen/variant.json"
# Most fundamental first: the reported category is the first of these found.
CATEGORIES = ("not-installed", "abi-mismatch", "cuda-runtime-mismatch", "version-mismatch",
              "arch-unsupported", "no-gpu", "oom", "error", "numerics", "perf-floor")


class VariantError(Exception):
    pass


def load_variant(path: str | None, targets: list[str]) -> dict[str, Any]:
    """Variant metadata from variant.json (if any) with --target NAME=CC entries merged in."""
    variant: dict[str, Any] = {"id": None, "strategy": None, "targets": [], "expect": {},
                               "perf_floor_tflops": None}
    if path is None and os.path.isfile(DEFAULT_VARIANT):
        path = DEFAULT_VARIANT
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise VariantError(f"cannot read variant file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise VariantError(f"{path}: expected a JSON object")
        variant.update(data)
        variant["expect"] = dict(data.get("expect") or {})
        variant["targets"] = list(data.get("targets") or [])
    by_name = {}
    for t in variant["targets"]:
        if not isinstance(t, dict) or "name" not in t or "compute_capability" not in t:
            raise VariantError(f"variant target needs name and compute_capability: {t!r}")
        by_name[str(t["name"])] = dict(t)
    for item in targets:
        name, sep, cc = item.partition("=")
        if not sep or not name:
            raise VariantError(f"--target wants NAME=CC, got {item!r}")
        by_name[name] = {**by_name.get(name, {}), "name": name, "compute_capability": cc}
    for t in by_name.values():
        try:
            t["compute_capability"] = archs.format_cc(str(t["compute_capability"]))
        except ValueError as exc:
            raise VariantError(f"target {t['name']}: bad compute capability "
                               f"{t['compute_capability']!r}") from exc
    variant["targets"] = list(by_name.values())
    floor = variant.get("perf_floor_tflops")
    if floor is not None and not isinstance(floor, (int, float)):
        raise VariantError(f"perf_floor_tflops must be a number, got {floor!r}")
    return variant


def flash_attn_expected(variant: dict[str, Any]) -> bool:
    if variant.get("strategy") == "none":
        return False
    expect = variant.get("expect") or {}
    return not ("flash_attn" in expect and expect["flash_attn"] is None)


def version_matches(expected: str, actual: str | None) -> bool:
    """'2.7.1' matches '2.7.1+cu126'; '2.8.3' matches '2.8.3.post2'; '3.11' matches '3.11.7'."""
    if actual is None:
        return False
    if "+" not in expected:
        actual = actual.split("+", 1)[0]
    want, have = expected.split("."), actual.split(".")
    return have[: len(want)] == want


def driver_versions() -> dict[str, Any]:
    """Kernel driver version (nvidia-smi or /proc) and the CUDA version libcuda supports."""
    out: dict[str, Any] = {"driver": None, "driver_cuda": None}
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as fh:
            for word in fh.readline().split():
                if word[:1].isdigit() and "." in word:
                    out["driver"] = word
                    break
    except OSError:
        pass
    if out["driver"] is None:
        try:
            proc = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                   "--format=csv,noheader"], capture_output=True, text=True,
                                  timeout=15, check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                out["driver"] = proc.stdout.strip().splitlines()[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
        version = ctypes.c_int(0)
        if libcuda.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value:
            out["driver_cuda"] = f"{version.value // 1000}.{version.value % 1000 // 10}"
    except (OSError, AttributeError):
        pass
    return out


def torch_arch_list(torch: Any) -> list[str]:
    """Archs torch was compiled for (works without a GPU where torch exposes the flags)."""
    flags = None
    getter = getattr(torch._C, "_cuda_getArchFlags", None)
    if getter is not None:
        try:
            flags = getter()
        except Exception:
            flags = None
    if not flags:
        try:
            return list(torch.cuda.get_arch_list())
        except Exception:
            return []
    return [f for f in str(flags).replace(";", " ").split() if f.startswith(("sm_", "compute_"))]


class Smoke:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.monotonic()
        self.problems: list[dict[str, Any]] = []
        self.torch: Any = None
        self.flash_attn: Any = None
        self.cc: tuple[int, int] | None = None
        self.doc: dict[str, Any] = {
            "schema": SCHEMA,
            "variant": None,
            "image": {"ref": args.image_ref or os.environ.get("GEN_IMAGE_REF") or None,
                      "digest": args.image_digest or os.environ.get("GEN_IMAGE_DIGEST") or None},
            "status": "fail",
            "category": None,
            "message": "",
            "problems": self.problems,
            "environment": {"python": platform.python_version(), "torch": None,
                            "torch_cuda": None, "cxx11_abi": None, "driver": None,
                            "driver_cuda": None, "gpu": None,
                            "flash_attn": {"expected": True, "version": None, "file": None,
                                           "extension": None}},
            "archs": {"file": None, "sass": [], "ptx": [], "source": None, "cuobjdump": None,
                      "runs_on_current": None, "targets": {}, "torch": None},
            "numerics": None,
            "perf": None,
            "warnings": [],
            "timings": {},
            "duration_s": None,
        }

    # -- bookkeeping ---------------------------------------------------------------------------
    def problem(self, category: str, message: str, stage: str,
                traceback: str | None = None, **details: Any) -> None:
        entry: dict[str, Any] = {"category": category, "stage": stage, "message": message}
        if details:
            entry["details"] = details
        if traceback:
            entry["traceback"] = traceback
        self.problems.append(entry)

    def guarded(self, stage: str, fn: Any) -> bool:
        """Run a stage; an exception becomes a categorised problem. True when it returned."""
        started = time.monotonic()
        try:
            fn()
            return True
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            text = importcheck.exception_chain_text(exc)
            tb = importcheck.format_traceback(exc)
            oom = getattr(getattr(self.torch, "cuda", None), "OutOfMemoryError", None)
            if (oom is not None and isinstance(exc, oom)) or "out of memory" in text.lower():
                self.problem("oom", f"{stage}: {importcheck.first_line(str(exc))}", stage, tb)
            elif found := importcheck.classify_text(text, stage):
                self.problem(found.category, found.message, stage, tb, **found.details)
            else:
                self.problem("error", f"{stage}: {type(exc).__name__}: "
                             f"{importcheck.first_line(str(exc))}", stage, tb,
                             exception=type(exc).__name__)
            return False
        finally:
            timings = self.doc["timings"]
            timings[stage] = round(timings.get(stage, 0.0) + time.monotonic() - started, 3)

    # -- stages --------------------------------------------------------------------------------
    def stage_variant(self) -> None:
        self.variant = load_variant(self.args.variant_json, self.args.target or [])
        self.doc["variant"] = self.variant.get("id")
        self.doc["environment"]["flash_attn"]["expected"] = flash_attn_expected(self.variant)

    def stage_driver(self) -> None:
        self.doc["environment"].update(driver_versions())

    def stage_torch(self) -> bool:
        torch, failure, tb = importcheck.try_import("torch")
        if failure is not None:
            self.problem(failure.category, failure.message, "import-torch", tb, **failure.details)
            return False
        self.torch = torch
        env = self.doc["environment"]
        env["torch"] = str(torch.__version__)
        env["torch_cuda"] = torch.version.cuda
        abi = getattr(torch, "compiled_with_cxx11_abi", None)
        env["cxx11_abi"] = bool(abi()) if callable(abi) else bool(
            getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", False))
        arch_list = torch_arch_list(torch)
        self.doc["archs"]["torch"] = {"arch_list": arch_list}
        return True

    def stage_static_archs(self) -> None:
        doc = self.doc["archs"]
        path = self.args.extension or fatbin.locate_extension()
        self.doc["environment"]["flash_attn"]["extension"] = path
        doc["file"] = path
        if path is None:
            return
        try:
            info = fatbin.read_fatbin(path)
            doc["sass"], doc["ptx"], doc["source"] = info.sass, info.ptx, "elf"
        except (fatbin.FatbinError, OSError, ValueError, IndexError) as exc:
            doc["elf_error"] = str(exc)
        started = time.monotonic()
        try:
            cross = fatbin.cuobjdump_archs(path, timeout=20.0)
        except (fatbin.FatbinError, OSError, subprocess.SubprocessError) as exc:
            cross, doc["cuobjdump_error"] = None, str(exc)[:300]
        if cross is not None:
            sass, ptx = cross
            agrees = doc["source"] == "elf" and fatbin.same_archs(doc["sass"], sass) and \
                fatbin.same_archs(doc["ptx"], ptx)
            doc["cuobjdump"] = {"sass": sass, "ptx": ptx, "agrees": agrees,
                                "duration_s": round(time.monotonic() - started, 3)}
            if doc["source"] is None:
                doc["sass"], doc["ptx"], doc["source"] = sass, ptx, "cuobjdump"
        if doc["source"] is None:
            self.problem("error", f"cannot read the fat binary of {path}: "
                         f"{doc.get('elf_error', 'unknown')}", "static-archs")

    def decide_targets(self) -> None:
        doc = self.doc["archs"]
        # An extension the variant does not expect (strategy none) is reported, not judged.
        have_ext = doc["source"] is not None and self.doc["environment"]["flash_attn"]["expected"]
        torch_list = (doc.get("torch") or {}).get("arch_list") or []
        torch_sass = [a for a in torch_list if a.startswith("sm_")]
        torch_ptx = [a for a in torch_list if a.startswith("compute_")]
        for target in self.variant["targets"]:
            cc = target["compute_capability"]
            runs = archs.binary_runs_on(doc["sass"], doc["ptx"], cc) if have_ext else None
            torch_runs = archs.binary_runs_on(torch_sass, torch_ptx, cc) if torch_list else None
            doc["targets"][target["name"]] = {"compute_capability": cc,
                                              "gpu": target.get("gpu"), "runs": runs,
                                              "torch_runs": torch_runs}
            if runs is False:
                self.problem("arch-unsupported",
                             f"flash_attn has no code for target {target['name']} (cc {cc}): "
                             f"SASS {' '.join(doc['sass']) or 'none'}, "
                             f"PTX {' '.join(doc['ptx']) or 'none'}",
                             "static-archs", target=target["name"])
            if torch_runs is False:
                self.problem("arch-unsupported",
                             f"torch has no code for target {target['name']} (cc {cc}): "
                             f"{' '.join(torch_list)}", "static-archs", target=target["name"])

    def stage_flash_attn(self) -> None:
        env = self.doc["environment"]["flash_attn"]
        module, failure, tb = importcheck.try_import("flash_attn")
        if failure is not None:
            if failure.category == "not-installed" and not env["expected"] \
                    and failure.details.get("missing") == "flash_attn":
                return  # absent, as the variant says: not a failure
            self.problem(failure.category, failure.message, "import-flash_attn", tb,
                         **failure.details)
            return
        env["version"] = str(getattr(module, "__version__", None))
        env["file"] = getattr(module, "__file__", None)
        if env["expected"]:
            self.flash_attn = module  # else: numerics and perf exercise torch SDPA
        loaded = sys.modules.get("flash_attn_2_cuda") or sys.modules.get(
            "flash_attn.flash_attn_2_cuda")
        if self.doc["archs"]["file"] is None and getattr(loaded, "__file__", None):
            self.args.extension = loaded.__file__  # not found statically: read the loaded one
            self.stage_static_archs()
        if not env["expected"]:
            self.doc["notes"] = ["flash_attn is installed although the variant expects none"]

    def stage_expect(self) -> None:
        expect = self.variant.get("expect") or {}
        env = self.doc["environment"]
        actual = {"torch": env["torch"], "cuda": env["torch_cuda"], "python": env["python"],
                  "flash_attn": env["flash_attn"]["version"]}
        for key in ("torch", "cuda", "python", "flash_attn"):
            want = expect.get(key)
            if want is None or actual[key] is None:
                continue  # not expected, or absent (reported by its import stage)
            if not version_matches(str(want), actual[key]):
                self.problem("version-mismatch", f"{key} is {actual[key]}, variant expects {want}",
                             "expect", key=key, expected=str(want), actual=actual[key])
        want_abi = expect.get("cxx11_abi")
        if want_abi is not None and env["cxx11_abi"] is not None and \
                bool(want_abi) != env["cxx11_abi"]:
            self.problem("version-mismatch", f"torch cxx11_abi is {env['cxx11_abi']}, variant "
                         f"expects {bool(want_abi)}", "expect", key="cxx11_abi")

    def stage_gpu(self) -> bool:
        torch = self.torch
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            available = bool(torch.cuda.is_available())
        text = "\n".join(str(w.message) for w in caught)
        self.doc["warnings"].extend(str(w.message)[:500] for w in caught)
        if not available:
            found = importcheck.classify_text(text, "torch.cuda")
            if found is not None and found.category == "cuda-runtime-mismatch":
                self.problem(found.category, found.message, "gpu")
            elif torch.version.cuda is None:
                self.problem("no-gpu", "torch is a CPU-only build (torch.version.cuda is None)",
                             "gpu")
            else:
                self.problem("no-gpu", "torch.cuda.is_available() is False"
                             + (f": {importcheck.first_line(text)}" if text else ""), "gpu")
            return False
        index = torch.cuda.current_device()
        self.cc = tuple(torch.cuda.get_device_capability(index))
        self.doc["environment"]["gpu"] = {
            "name": torch.cuda.get_device_name(index),
            "compute_capability": f"{self.cc[0]}.{self.cc[1]}",
            "count": torch.cuda.device_count()}
        archs_doc = self.doc["archs"]
        if archs_doc["source"] is not None and self.doc["environment"]["flash_attn"]["expected"]:
            runs = archs.binary_runs_on(archs_doc["sass"], archs_doc["ptx"], self.cc)
            archs_doc["runs_on_current"] = runs
            if not runs:
                self.problem("arch-unsupported", f"flash_attn has no code for this GPU "
                             f"(cc {self.cc[0]}.{self.cc[1]}): SASS "
                             f"{' '.join(archs_doc['sass']) or 'none'}, PTX "
                             f"{' '.join(archs_doc['ptx']) or 'none'}", "gpu")
                return False
        return True

    def stage_numerics(self) -> None:
        try:
            from . import numerics
        except ImportError:
            import numerics  # type: ignore[no-redef]
        doc = numerics.run_numerics(self.torch, self.flash_attn, self.cc)
        self.doc["numerics"] = doc
        if not doc["passed"]:
            worst = doc["worst"] or {}
            self.problem("numerics", f"{doc['subject']} {worst.get('case')} {worst.get('tensor')}"
                         f": max abs error {worst.get('err')} > bound {worst.get('bound')}",
                         "numerics", worst=worst)

    def stage_perf(self) -> None:
        try:
            from . import perfprobe
        except ImportError:
            import perfprobe  # type: ignore[no-redef]
        doc = perfprobe.run_perf(self.torch, self.flash_attn)
        self.doc["perf"] = doc
        floor = self.variant.get("perf_floor_tflops")
        subject = "flash_attn" if doc.get("flash_attn") else "sdpa"
        doc["floor_tflops"] = floor
        doc["floor_applies_to"] = f"{subject}.fwd_tflops"
        if floor is not None and doc[subject]["fwd_tflops"] < floor:
            self.problem("perf-floor", f"{subject} forward {doc[subject]['fwd_tflops']} TFLOP/s "
                         f"< floor {floor}", "perf")

    # -- driver --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            warnings.filterwarnings("ignore", category=ImportWarning)
            self._run()
        self.doc["warnings"].extend(str(w.message)[:500] for w in caught)
        self.doc["warnings"] = list(dict.fromkeys(self.doc["warnings"]))[:20]
        return self.finish()

    def _run(self) -> None:
        if not self.guarded("variant", self.stage_variant):
            self.variant = {"targets": [], "expect": {}, "perf_floor_tflops": None}
            return
        self.guarded("driver", self.stage_driver)
        torch_ok = False

        def torch_stage() -> None:
            nonlocal torch_ok
            torch_ok = self.stage_torch()

        self.guarded("import-torch", torch_stage)
        self.guarded("static-archs", self.stage_static_archs)
        if torch_ok:
            self.guarded("import-flash_attn", self.stage_flash_attn)
        self.guarded("static-archs", self.decide_targets)
        if not torch_ok:
            return
        self.guarded("expect", self.stage_expect)
        gpu_ok = False

        def gpu_stage() -> None:
            nonlocal gpu_ok
            gpu_ok = self.stage_gpu()

        self.guarded("gpu", gpu_stage)
        if self.doc["environment"]["flash_attn"]["expected"] and self.flash_attn is None:
            gpu_ok = False  # nothing to exercise: the import problem is already recorded
        if not gpu_ok or self.args.skip_gpu_checks:
            return
        self.guarded("numerics", self.stage_numerics)
        self.guarded("perf", self.stage_perf)

    def finish(self) -> dict[str, Any]:
        self.problems.sort(key=lambda p: CATEGORIES.index(p["category"]))
        if self.problems:
            first = self.problems[0]
            self.doc.update(status="fail", category=first["category"], message=first["message"])
        else:
            self.doc.update(status="pass", category=None, message=self.summary())
        self.doc["duration_s"] = round(time.monotonic() - self.started, 3)
        return self.doc

    def summary(self) -> str:
        env = self.doc["environment"]
        gpu = (env.get("gpu") or {}).get("name", "no GPU")
        fa = env["flash_attn"]["version"]
        perf = self.doc.get("perf") or {}
        subject = "flash_attn" if perf.get("flash_attn") else "sdpa"
        tflops = (perf.get(subject) or {}).get("fwd_tflops")
        what = f"flash_attn {fa}" if fa else "torch SDPA (no flash_attn)"
        return f"{what} on {gpu}" + (f", {subject} fwd {tflops} TFLOP/s" if tflops else "")


def write_json(path: str, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".smoke-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smoke.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="-", help="JSON output path ('-' = stdout)")
    parser.add_argument("--variant-json", help=f"variant metadata (default {DEFAULT_VARIANT} "
                        "when present)")
    parser.add_argument("--target", action="append", metavar="NAME=CC",
                        help="a target GPU, e.g. l40=8.9 (repeatable)")
    parser.add_argument("--image-ref", help="echoed into the JSON (env GEN_IMAGE_REF)")
    parser.add_argument("--image-digest", help="echoed into the JSON (env GEN_IMAGE_DIGEST)")
    parser.add_argument("--extension", help="flash_attn CUDA extension to read (default: "
                        "located through importlib, without importing it)")
    parser.add_argument("--skip-gpu-checks", action="store_true",
                        help="stop after imports and the static arch check")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    smoke = Smoke(args)
    try:
        doc = smoke.run()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        smoke.problem("error", f"smoke: {type(exc).__name__}: {exc}", "smoke",
                      importcheck.format_traceback(exc))
        doc = smoke.finish()
    write_json(args.out, doc)
    line = f"smoke: {doc['status']}"
    line += f" [{doc['category']}] " if doc["category"] else ": "
    print(line + str(doc["message"]), file=sys.stderr)
    return 0 if doc["status"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
