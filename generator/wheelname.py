"""A pure parser of flash-attn release wheel file names.

`flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl` ->
version 2.8.3, CUDA tag cu12, torch 2.7, CXX11 ABI true, cp311/cp311, linux_x86_64.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_NAME = re.compile(
    r"^(?P<dist>flash_attn)-(?P<version>\d+(?:\.\d+)*(?:\.post\d+)?)"
    r"\+(?P<local>[^-]+)"
    r"-(?P<python>[a-z]+\d+)-(?P<abi>[a-z0-9_]+)-(?P<platform>[a-z0-9_.]+)\.whl$")
_LOCAL = re.compile(r"^(?P<cuda>cu\d+)torch(?P<torch>\d+\.\d+)cxx11abi(?P<abi>TRUE|FALSE)$")


@dataclass(frozen=True)
class FlashAttnWheel:
    filename: str
    version: str  # 2.8.3
    cuda_tag: str  # cu12, cu122...
    torch_minor: str  # 2.7
    cxx11_abi: bool
    python_tag: str  # cp311
    abi_tag: str  # cp311
    platform: str  # linux_x86_64

    @property
    def cuda_major(self) -> str:
        """'12' for cu12, cu122 and cu128; '11' for cu11 and cu118."""
        return self.cuda_tag[2:4]


def file_name(url_or_name: str) -> str:
    """The file name at the end of a URL (percent-decoded: %2B is '+')."""
    return unquote(urlsplit(url_or_name).path.rsplit("/", 1)[-1])


def parse_flash_attn_wheel(url_or_name: str) -> FlashAttnWheel:
    """Parse a flash-attn release wheel name; ValueError says what does not fit."""
    name = file_name(url_or_name)
    if not name.endswith(".whl"):
        raise ValueError(f"{name!r} is not a wheel file name (no .whl)")
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} does not follow flash_attn-VERSION+LOCAL-PY-ABI-PLATFORM.whl")
    local = _LOCAL.match(match["local"])
    if local is None:
        raise ValueError(f"the local version {match['local']!r} of {name!r} is not "
                         "cuXXtorchX.Ycxx11abiTRUE|FALSE")
    return FlashAttnWheel(name, match["version"], local["cuda"], local["torch"],
                          local["abi"] == "TRUE", match["python"], match["abi"],
                          match["platform"])
