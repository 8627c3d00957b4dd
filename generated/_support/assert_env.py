"""Build-time check inside a generated image: is this the environment the plan assumed?

Copied to /opt/gen/assert_env.py and run by the Dockerfile (stdlib and torch only). It
compares Python, torch, torch.version.cuda, the C++ ABI and flash-attn with the `expect`
block of /opt/gen/variant.json and exits 1 with one line per mismatch, so a wrong
assumption fails `docker build` rather than the first training run.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata

PREFIX = "gen: build-time assertion"


def _flash_attn_problems(expected: str | None) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the installed flash-attn."""
    try:
        installed = metadata.version("flash-attn")
    except metadata.PackageNotFoundError:
        installed = None
    if expected is None:
        if installed:
            return [f"flash-attn {installed} is installed, but this variant expects none"], []
        return [], []
    if installed is None:
        return [f"flash-attn {expected} expected, but it is not installed"], []
    if installed != expected:
        return [f"flash-attn {expected} expected, {installed} installed"], []
    try:
        import flash_attn  # noqa: F401
    except ImportError as exc:
        text = str(exc)
        if "undefined symbol" in text:
            return [f"flash-attn does not load against this torch (C++ ABI mismatch?): {text}"], []
        # e.g. libcuda.so.1 is absent on a build machine without a GPU driver
        return [], [f"flash-attn could not be imported at build time: {text}"]
    return [], []


def check(expect: dict, skip_flash_attn: bool = False) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python != expect["python"]:
        errors.append(f"Python {expect['python']} expected, {python} found ({sys.executable})")
    try:
        import torch
    except ImportError as exc:
        return errors + [f"torch {expect['torch']} expected, but import failed: {exc}"], warnings
    version = str(torch.__version__).split("+")[0]
    if version != expect["torch"]:
        errors.append(f"torch {expect['torch']} expected, {torch.__version__} found")
    cuda = torch.version.cuda
    if cuda is None or ".".join(str(cuda).split(".")[:2]) != expect["cuda"]:
        errors.append(f"torch built for CUDA {expect['cuda']} expected, torch.version.cuda is "
                      f"{cuda}")
    if expect.get("cxx11_abi") is not None:
        abi = bool(torch.compiled_with_cxx11_abi())
        if abi != expect["cxx11_abi"]:
            errors.append(f"torch with cxx11 ABI {expect['cxx11_abi']} expected, "
                          f"torch.compiled_with_cxx11_abi() is {abi}")
    if not skip_flash_attn:
        more, warn = _flash_attn_problems(expect.get("flash_attn"))
        errors += more
        warnings += warn
    return errors, warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="/opt/gen/variant.json")
    parser.add_argument("--skip-flash-attn", action="store_true",
                        help="check torch, CUDA, Python and ABI only (before compiling)")
    args = parser.parse_args(argv)
    with open(args.variant, encoding="utf-8") as handle:
        variant = json.load(handle)
    errors, warnings = check(variant["expect"], args.skip_flash_attn)
    for line in warnings:
        print(f"{PREFIX}: warning: {line}", file=sys.stderr)
    if errors:
        print(f"{PREFIX} failed for variant {variant['id']}: the plan assumed something "
              "this image does not have:", file=sys.stderr)
        for line in errors:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print(f"{PREFIX}s passed for {variant['id']}: " + json.dumps(variant["expect"],
                                                                   sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
