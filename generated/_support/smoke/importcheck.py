"""Import a module and classify why it failed, the way a person reading the loader error would.

Standard library only. Categories:
- not-installed: the module (or a Python module it needs) is not there;
- abi-mismatch: the dynamic loader found an undefined symbol (C++ ABI or version skew between
  the extension and torch), or a missing symbol version such as GLIBCXX_3.4.32;
- cuda-runtime-mismatch: a CUDA shared library (libcudart.so.12, libcuda.so.1...) is missing,
  or the driver is older than the CUDA runtime/PTX needs;
- arch-unsupported: the GPU has no code in the binary ("no kernel image is available");
- error: anything else.
"""

from __future__ import annotations

import ctypes
import importlib
import re
import shutil
import subprocess
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

UNDEFINED_SYMBOL = re.compile(r"undefined symbol:\s*(\S+)")
SYMBOL_VERSION = re.compile(r"version `([^']+)' not found")
MISSING_LIB = re.compile(r"(lib[\w.+-]*\.so(?:\.[\w.]+)?): cannot open shared object file")
CUDA_LIB = re.compile(r"^lib(cuda|cudart|cublas|cublasLt|cudnn|cufft|curand|cusparse|cusolver|"
                      r"nvrtc|nvJitLink|nvToolsExt|cupti|nccl|c10_cuda|torch_cuda|caffe2_nvrtc)"
                      r"[\w-]*\.so")
DRIVER_TOO_OLD = re.compile(
    r"driver version is insufficient|driver on your system is too old|"
    r"unsupported toolchain|CUDA driver version|forward compatibility was attempted",
    re.IGNORECASE)
NO_KERNEL_IMAGE = re.compile(
    r"no kernel image is available|FlashAttention only supports (Ampere|Turing)|"
    r"invalid device function|not compiled for this (GPU|architecture)",
    re.IGNORECASE)


@dataclass
class Classified:
    category: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def demangle(symbol: str) -> str:
    """Demangle a C++ symbol with c++filt, else libstdc++'s __cxa_demangle, else as is."""
    if not symbol.startswith("_Z"):
        return symbol
    tool = shutil.which("c++filt")
    if tool:
        try:
            out = subprocess.run([tool, symbol], capture_output=True, text=True, timeout=10,
                                 check=False).stdout.strip()
            if out and out != symbol:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        lib = ctypes.CDLL("libstdc++.so.6")
        fn = lib.__cxa_demangle
        fn.restype = ctypes.c_void_p
        fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                       ctypes.POINTER(ctypes.c_int)]
        status = ctypes.c_int(1)
        ptr = fn(symbol.encode(), None, None, ctypes.byref(status))
        if status.value == 0 and ptr:
            text = ctypes.string_at(ptr).decode("utf-8", "replace")
            ctypes.CDLL(None).free(ctypes.c_void_p(ptr))
            return text
    except (OSError, AttributeError):
        pass
    return symbol


def exception_chain_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def classify_text(text: str, module: str = "") -> Classified | None:
    """Classify a loader / CUDA error message; None when nothing specific matches."""
    what = f"{module}: " if module else ""
    if match := UNDEFINED_SYMBOL.search(text):
        symbol = match.group(1)
        readable = demangle(symbol)
        return Classified("abi-mismatch", f"{what}undefined symbol {readable}",
                          {"symbol": symbol, "demangled": readable})
    if match := SYMBOL_VERSION.search(text):
        return Classified("abi-mismatch", f"{what}symbol version {match.group(1)} not found",
                          {"symbol_version": match.group(1)})
    if match := MISSING_LIB.search(text):
        lib = match.group(1)
        category = "cuda-runtime-mismatch" if CUDA_LIB.match(lib) else "not-installed"
        return Classified(category, f"{what}cannot load {lib}", {"library": lib})
    if DRIVER_TOO_OLD.search(text):
        return Classified("cuda-runtime-mismatch", f"{what}{first_line(text)}", {})
    if NO_KERNEL_IMAGE.search(text):
        return Classified("arch-unsupported", f"{what}{first_line(text)}", {})
    return None


def first_line(text: str, limit: int = 300) -> str:
    line = next((ln for ln in text.splitlines() if ln.strip()), text)
    return line.strip()[:limit]


def classify_exception(exc: BaseException, module: str) -> Classified:
    """Turn an exception raised by `import module` into a category and a one-line message."""
    text = exception_chain_text(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top == module.split(".")[0]:
            return Classified("not-installed", f"{module} is not installed", {"missing": exc.name})
        if not module.startswith(top):
            return Classified("not-installed",
                              f"{module} needs the Python module {exc.name}, which is missing",
                              {"missing": exc.name})
    found = classify_text(text, module)
    if found:
        return found
    return Classified("error", f"import {module}: {type(exc).__name__}: {first_line(str(exc))}",
                      {"exception": type(exc).__name__})


def try_import(module: str) -> tuple[ModuleType | None, Classified | None, str | None]:
    """(module, None, None) on success, else (None, classification, traceback text)."""
    try:
        return importlib.import_module(module), None, None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, classify_exception(exc, module), format_traceback(exc)
