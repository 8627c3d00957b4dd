"""CUDA binary compatibility rules (standard library only; also copied into images).

A cubin for sm_XY runs on a GPU of the same major X with minor >= Y; an arch-specific
cubin (sm_90a) runs only on exactly that compute capability. PTX for compute_XY is
JIT-compiled by the driver for any GPU of compute capability >= XY.
"""

from __future__ import annotations

from collections.abc import Iterable


def parse_cc(value: str | int | float | tuple[int, int]) -> tuple[int, int]:
    """Parse '8.9', '89', 'sm_89', 'sm_90a', 89 or (8, 9) into (major, minor)."""
    if isinstance(value, tuple):
        return value
    text = str(value).strip().lower()
    for prefix in ("sm_", "compute_", "sm", "compute"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.rstrip("af")
    if "." in text:
        major, minor = text.split(".", 1)
        return int(major), int(minor)
    number = int(text)
    return number // 10, number % 10


def is_arch_specific(arch: str | int) -> bool:
    """True for sm_90a-style codes, which run only on exactly that compute capability."""
    return str(arch).strip().lower().endswith("a")


def is_family_specific(arch: str | int) -> bool:
    """True for sm_100f-style codes, which run on the same major, equal or higher minor."""
    return str(arch).strip().lower().endswith("f")


def cubin_runs_on(arch: str | int, cc: str | tuple[int, int]) -> bool:
    """Whether SASS compiled for `arch` runs on a GPU of compute capability `cc`."""
    code, gpu = parse_cc(arch), parse_cc(cc)
    if is_arch_specific(arch):
        return code == gpu
    return code[0] == gpu[0] and gpu[1] >= code[1]


def ptx_runs_on(arch: str | int, cc: str | tuple[int, int]) -> bool:
    """Whether PTX for `arch` can be JIT-compiled for a GPU of compute capability `cc`."""
    code, gpu = parse_cc(arch), parse_cc(cc)
    if is_arch_specific(arch):
        return code == gpu
    if is_family_specific(arch):
        return code[0] == gpu[0] and gpu[1] >= code[1]
    return gpu >= code


def binary_runs_on(
    sass: Iterable[str | int], ptx: Iterable[str | int], cc: str | tuple[int, int]
) -> bool:
    """Whether a fat binary with these SASS and PTX entries has code for `cc`."""
    return any(cubin_runs_on(a, cc) for a in sass) or any(ptx_runs_on(a, cc) for a in ptx)


def format_cc(cc: str | tuple[int, int]) -> str:
    major, minor = parse_cc(cc)
    return f"{major}.{minor}"
