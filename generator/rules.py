"""Pure rule functions: each judges a candidate from the knowledge tables alone.

A rule returns a list of `Reason`s (empty when the candidate passes). Every reason has a
stable code, a sentence a user understands, and where the same knowledge knows one, a
suggestion that works. No rule touches the network or the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import NamedTuple

from generator import knowledge
from generator.candidate import Candidate
from generator.smoke.archs import binary_runs_on, cubin_runs_on
from generator.smoke.archs import parse_cc as _parse_cc

# code -> what it means (README and `gen plan --help` list these).
REASON_CODES: dict[str, str] = {
    "torch-unknown": "the torch version is not a known release",
    "torch-cuda-unsupported": "torch has no build for that CUDA version",
    "python-unsupported": "torch has no wheels for that Python",
    "unknown-release": "the flash-attn version is not in the knowledge tables",
    "no-wheel": "flash-attn published no wheel for this torch, CUDA, ABI and Python",
    "abi-mismatch": "the only wheel is built for the other C++ ABI: 'undefined symbol' at import",
    "wheel-url-mismatch": "a user-supplied wheel file name does not fit the variant",
    "arch-unsupported": "the flash-attn code cannot run on the target GPU",
    "needs-nvcc": "the strategy compiles CUDA code but the image has no nvcc (not -devel)",
    "nvcc-too-old": "the image's nvcc is older than this build needs",
    "cuda-major-mismatch": "nvcc and torch's CUDA have different major versions",
    "excluded": "an exclude rule in matrix.yaml matches",
    "resource-missing": "gen verify found that a needed image, wheel or sdist does not exist",
}

# Archs flash-attn's setup.py accepts in FLASH_ATTN_CUDA_ARCHS, and the nvcc that can
# compile each (CUDA toolkit release notes: sm_89/sm_90 from 11.8, sm_100/sm_120 from 12.8).
FA_BUILD_ARCHS: dict[int, str] = {80: "11.0", 90: "11.8", 100: "12.8", 120: "12.8"}


class Reason(NamedTuple):
    code: str
    message: str
    suggestion: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


Rule = Callable[[Candidate], list[Reason]]


parse_cc = cache(_parse_cc)


def _v(text: str):
    return knowledge.version(text)


@cache
def build_archs(cc: str) -> list[int]:
    """The FLASH_ATTN_CUDA_ARCHS values a build needs so that `cc` has a cubin (8.9 -> [80])."""
    return [arch for arch in FA_BUILD_ARCHS if cubin_runs_on(arch, cc)][:1]


# ---------------------------------------------------------------- torch, CUDA, Python


def rule_torch(c: Candidate) -> list[Reason]:
    table = knowledge.torch_table()
    entry = table.minor(c.torch)
    if entry is None or c.torch not in entry.versions:
        known = ", ".join(table.all_versions()[-6:])
        return [Reason("torch-unknown", f"torch {c.torch} is not a known release.",
                       f"use one of {known}")]
    reasons = []
    if c.torch_cuda_tag not in entry.cuda:
        builds = ", ".join(entry.cuda)
        reasons.append(Reason(
            "torch-cuda-unsupported",
            f"torch {c.torch} has no {c.torch_cuda_tag} build (its Linux CUDA builds: {builds}).",
            _suggest_cuda_base(c, entry.cuda),
        ))
    if c.python not in entry.python:
        experimental = c.python in entry.python_experimental
        lo, hi = entry.python[0], entry.python[-1]
        reasons.append(Reason(
            "python-unsupported",
            f"torch {entry.minor} supports Python {lo} to {hi}"
            + (f"; {c.python} is only experimental." if experimental
               else f", not {c.python}."),
            f"use Python {hi}" + (" or a newer torch" if not experimental else ""),
        ))
    return reasons


def _suggest_cuda_base(c: Candidate, builds: tuple[str, ...]) -> str:
    """A tag of the same family whose CUDA matches a build torch has, nearest first."""
    def distance(tag: str) -> int:  # cu118 vs 12.6: |118 - 126|
        return abs(int(tag[2:]) - int(knowledge.cuda_tag(c.base.cuda_minor)[2:]))

    nearest = min(builds, key=distance)
    cuda = knowledge.cuda_of_tag(nearest)
    if c.base.torch:
        tag = c.base.tag.replace(f"cuda{c.base.cuda}", f"cuda{cuda}", 1)
        return f"use {c.base.image}:{tag} (torch {c.torch} + CUDA {cuda})"
    return f"use an {c.base.image} {cuda}.x tag, or torch {c.torch}+{nearest}"


# ---------------------------------------------------------------- GPU arch


def rule_arch(c: Candidate) -> list[Reason]:
    if c.strategy == "none":
        return []
    fa = knowledge.flash_attn_table()
    cc = c.target.compute_capability
    min_cc = knowledge.fa_generation("fa2")["min_cc"]
    if parse_cc(cc) < parse_cc(min_cc):
        return [Reason(
            "arch-unsupported",
            f"flash-attn 2 has kernels for compute capability {min_cc} "
            f"and newer; {c.target.gpu} is {cc}.",
            "use strategy none (torch's scaled_dot_product_attention) on this GPU, or a "
            "target with cc >= 8.0 such as an L40 or A100",
        )]
    release = fa.release(c.flash_attn or "")
    if c.strategy == "wheel" and release and not binary_runs_on(release.archs, (), cc):
        archs = ", ".join(f"sm_{a}" for a in release.archs)
        return [Reason(
            "arch-unsupported",
            f"the flash-attn {release.version} wheels carry {archs} and no PTX: nothing "
            f"runs on {c.target.gpu} (cc {cc}).",
            f"use strategy source with FLASH_ATTN_CUDA_ARCHS={_arch_list(cc)}",
        )]
    if c.strategy != "wheel" and not build_archs(cc):
        return [Reason("arch-unsupported",
                       f"flash-attn cannot compile code for cc {cc}.",
                       "use strategy none")]
    return []


def _arch_list(cc: str) -> str:
    return ";".join(str(a) for a in build_archs(cc)) or "80"


# ---------------------------------------------------------------- prebuilt wheels


def wheel_filename(fa_version: str, torch: str, torch_cuda: str, abi: bool,
                   python: str) -> str | None:
    """The release wheel name flash-attn's setup.py would guess, or None for no CUDA tag."""
    fa = knowledge.flash_attn_table()
    tag = fa.cuda_rule(fa_version).tags.get(torch_cuda.split(".")[0])
    if tag is None:
        return None
    return fa.wheel_name.format(
        version=fa_version, cuda_tag=tag, torch_minor=knowledge.minor_of(torch),
        abi="TRUE" if abi else "FALSE", python_tag="cp" + python.replace(".", ""),
    )


def wheel_url(fa_version: str, filename: str) -> str:
    fa = knowledge.flash_attn_table()
    return fa.wheel_url.format(repo=fa.github_repo, version=fa_version, name=filename)


def wheel_gap(release: knowledge.FlashAttnRelease, torch: str, torch_cuda: str, abi: bool,
              python: str) -> tuple[str, str] | None:
    """Why `release` has no working wheel for this environment: (code, message), or None."""
    fa = knowledge.flash_attn_table()
    minor = knowledge.minor_of(torch)
    major = torch_cuda.split(".")[0]
    rule = fa.cuda_rule(release.version)
    if rule.tags.get(major) is None:
        why = f" ({rule.note})" if rule.note else ""
        return "no-wheel", (f"flash-attn {release.version} has no wheel for CUDA {major}.x "
                            f"torch{why}.")
    if minor not in release.torch:
        return "no-wheel", (f"flash-attn {release.version} wheels are built for torch "
                            f"{', '.join(release.torch)}, not {minor}.")
    if python not in release.python or (python, minor) in release.python_except:
        return "no-wheel", (f"flash-attn {release.version} has no cp{python.replace('.', '')} "
                            f"wheel for torch {minor}.")
    if abi not in release.abi:
        return "no-wheel", (f"flash-attn {release.version} has no cxx11abi"
                            f"{str(abi).upper()} wheel.")
    if not abi and minor in release.fake_abi_false:
        return "abi-mismatch", (
            f"torch {torch}+cu{torch_cuda.replace('.', '')} uses the old C++ ABI, and "
            f"flash-attn {release.version}'s cxx11abiFALSE wheel for torch {minor} was really "
            f"built with the CXX11 ABI: import fails with 'undefined symbol: _ZN3c10...' "
            f"(flash-attention issue #1783).")
    return None


def releases_with_wheel(torch: str, torch_cuda: str, abi: bool, python: str) -> list[str]:
    """Known flash-attn releases, newest first, that ship a working wheel for this."""
    return [r.version for r in knowledge.flash_attn_table().newest_first()
            if wheel_gap(r, torch, torch_cuda, abi, python) is None]


def rule_wheel(c: Candidate) -> list[Reason]:
    if c.strategy != "wheel" or c.wheel_url:
        return []
    release = knowledge.flash_attn_table().release(c.flash_attn or "")
    if release is None:
        return [_unknown_release(c)]
    abi = bool(c.cxx11_abi)
    gap = wheel_gap(release, c.torch, c.torch_cuda, abi, c.python)
    if gap is None:
        return []
    code, message = gap
    return [Reason(code, message, _suggest_wheel_alternative(c, abi))]


def _suggest_wheel_alternative(c: Candidate, abi: bool) -> str:
    others = [v for v in releases_with_wheel(c.torch, c.torch_cuda, abi, c.python)
              if v != c.flash_attn]
    if others:
        name = wheel_filename(others[0], c.torch, c.torch_cuda, abi, c.python)
        return f"use flash-attn {others[0]} (release wheel {name})"
    entry = knowledge.torch_table().minor(c.torch)
    if entry:  # another build of the same torch whose ABI has a wheel
        for tag in entry.cuda:
            other_abi = entry.cxx11_abi.get(tag, abi)
            if tag != c.torch_cuda_tag and tag.startswith(c.torch_cuda_tag[:4]) and (
                    release := knowledge.flash_attn_table().release(c.flash_attn or "")) and (
                    wheel_gap(release, c.torch, knowledge.cuda_of_tag(tag), other_abi,
                              c.python) is None):
                return (f"use torch {c.torch}+{tag} (cxx11abi{str(other_abi).upper()}), which "
                        f"flash-attn {c.flash_attn} ships a wheel for")
    devel = c.base.with_flavour("devel")
    where = f" on {devel.ref}" if devel and devel is not c.base else ""
    return f"build it: strategy pypi-sdist{where} or source"


def _unknown_release(c: Candidate) -> Reason:
    known = ", ".join(r.version for r in knowledge.flash_attn_table().newest_first())
    return Reason("unknown-release",
                  f"flash-attn {c.flash_attn} is not in the knowledge tables, so its wheels "
                  "cannot be named.", f"use one of {known}, or strategy pypi-sdist")


# ---------------------------------------------------------------- builds (sdist, source)


def rule_build(c: Candidate) -> list[Reason]:
    if c.strategy not in ("pypi-sdist", "source"):
        return []
    reasons = []
    if c.strategy == "pypi-sdist" and not c.base.has_nvcc:
        devel = c.base.with_flavour("devel")
        reasons.append(Reason(
            "needs-nvcc",
            f"pip builds flash-attn from the sdist with nvcc, and {c.base.ref} is a "
            f"-{c.base.flavour} image without it.",
            (f"use {devel.ref}, or strategy source (builds in it and copies the wheel into "
             f"this image)") if devel else "use a -devel image",
        ))
    builder = c.base.with_flavour("devel")
    if builder is None:
        reasons.append(Reason("needs-nvcc", f"{c.base.ref} has no -devel twin to build in.",
                              "use a base image family with -devel tags"))
        return reasons
    nvcc = builder.cuda_minor
    release = knowledge.flash_attn_table().release(c.flash_attn or "")
    need = release.min_nvcc if release else "11.7"
    if _v(nvcc) < _v(need):
        reasons.append(Reason(
            "nvcc-too-old",
            f"flash-attn {c.flash_attn} needs nvcc >= {need}; {builder.ref} has {nvcc}.",
            f"use a -devel image with CUDA >= {need}",
        ))
    for arch in build_archs(c.target.compute_capability):
        if _v(nvcc) < _v(FA_BUILD_ARCHS[arch]):
            reasons.append(Reason(
                "nvcc-too-old",
                f"sm_{arch} code for {c.target.gpu} needs nvcc >= {FA_BUILD_ARCHS[arch]}; "
                f"{builder.ref} has {nvcc}.",
                f"use a -devel image with CUDA >= {FA_BUILD_ARCHS[arch]}",
            ))
    if nvcc.split(".")[0] != c.torch_cuda.split(".")[0]:
        reasons.append(Reason(
            "cuda-major-mismatch",
            f"torch's CUDA {c.torch_cuda} and nvcc {nvcc} differ in major version; torch's "
            "extension builder refuses that.",
            f"use a -devel image with CUDA {c.torch_cuda.split('.')[0]}.x",
        ))
    return reasons


def rule_wheel_url(c: Candidate) -> list[Reason]:
    """An include's `wheel_url` must name a wheel that fits the variant (generator/wheelurl)."""
    if not c.wheel_url:
        return []
    from generator.wheelurl import check_wheel_url

    return check_wheel_url(c)


# Rules in the order they run; a later stage runs only when the earlier ones passed,
# since its messages would be meaningless for, say, an unknown torch.
STAGES: tuple[tuple[Rule, ...], ...] = (
    (rule_torch,),
    (rule_arch,),
    (rule_wheel, rule_build, rule_wheel_url),
)


def evaluate(c: Candidate) -> list[Reason]:
    for stage in STAGES:
        reasons = [reason for rule in stage for reason in rule(c)]
        if reasons:
            return reasons
    return []
