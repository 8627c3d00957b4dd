"""The file-name check of a user-supplied flash-attn wheel URL (rules.rule_wheel_url).

The name must fit the variant: same flash-attn version, a CUDA tag the release uses for the
CUDA major of torch (e.g. `cu121` never appears in an official flash-attn wheel name), the
torch minor, the C++ ABI of that torch build, the image's Python tag and linux x86_64.
`gen verify` then proves the URL exists.
"""

from __future__ import annotations

from generator import knowledge
from generator.candidate import Candidate
from generator.rules import Reason, wheel_filename, wheel_url
from generator.wheelname import parse_flash_attn_wheel


def check_wheel_url(c: Candidate) -> list[Reason]:
    """An include's `wheel_url` must name a wheel that fits the variant (file name only;
    `gen verify` then proves the URL exists)."""
    if c.strategy != "wheel" or not c.wheel_url:
        return []
    fa = knowledge.flash_attn_table()
    expected = (wheel_filename(c.flash_attn, c.torch, c.torch_cuda, bool(c.cxx11_abi),
                               c.python) if c.flash_attn else None)
    hint = (f"use {wheel_url(c.flash_attn or '', expected)}" if expected
            else "use strategy pypi-sdist or source")
    try:
        w = parse_flash_attn_wheel(c.wheel_url)
    except ValueError as exc:
        return [Reason("wheel-url-mismatch", f"wheel_url {c.wheel_url}: {exc}.", hint)]
    problems = []
    if c.flash_attn and w.version != c.flash_attn:
        problems.append(f"it is flash-attn {w.version}, the variant wants {c.flash_attn}")
    torch_major = c.torch_cuda.split(".")[0]
    official = f"github.com/{fa.github_repo}/".lower() in c.wheel_url.lower()
    try:
        tag = fa.cuda_rule(w.version).tags.get(torch_major)
    except LookupError:
        tag = None
    if w.cuda_major != torch_major:
        problems.append(f"its {w.cuda_tag} is for CUDA {w.cuda_major}.x, torch "
                        f"{c.torch}+{c.torch_cuda_tag} is CUDA {c.torch_cuda}")
    elif official and w.cuda_tag != tag:
        known = sorted({t for r in fa.cuda_tag_rules for t in r.tags.values() if t})
        never = w.cuda_tag not in known
        problems.append(
            f"{w.cuda_tag} " + ("never appears in an official flash-attn wheel name "
                                f"(tags: {', '.join(known)})" if never else
                                f"is not the tag flash-attn {w.version} uses for CUDA "
                                f"{torch_major}.x ({tag or 'none'})"))
    if w.torch_minor != c.torch_minor:
        problems.append(f"it is built for torch {w.torch_minor}, the variant has {c.torch}")
    if c.cxx11_abi is not None and w.cxx11_abi != c.cxx11_abi:
        problems.append(f"it is cxx11abi{str(w.cxx11_abi).upper()}, torch {c.torch}+"
                        f"{c.torch_cuda_tag} uses cxx11abi{str(c.cxx11_abi).upper()}: "
                        "'undefined symbol' at import")
    if w.python_tag != c.python_tag:
        problems.append(f"its Python tag is {w.python_tag}, the image has Python {c.python} "
                        f"({c.python_tag})")
    if "x86_64" not in w.platform or "linux" not in w.platform:
        problems.append(f"its platform {w.platform} is not linux x86_64")
    return [Reason("wheel-url-mismatch", f"wheel_url {w.filename}: {p}.", hint)
            for p in problems]
