"""Read the CUDA fat binary of a shared object: which SASS and PTX archs it carries.

Standard library only, no GPU, and the extension is never imported (importing it may be the
very thing that fails). Layout, as written by nvcc (CUDA 11 to 13):

- the ELF64 section `.nv_fatbin` holds one or more fatbin containers, 8-byte aligned;
- a container is a 16-byte header (u32 magic 0xBA55ED50, u16 version, u16 header size,
  u64 payload size) followed by entries;
- an entry header starts with u16 kind (1 = PTX, 2 = ELF cubin), u16 version, u32 header size,
  u64 payload size, then at offset 28 u32 arch (80 for sm_80) and at offset 40 u64 flags, where
  0x100000 marks arch-specific code (sm_90a) and 0x200000 family code (sm_100f). The payload
  (possibly compressed) follows the entry header and is not read.

`cuobjdump --list-elf --list-ptx` answers the same question; `cuobjdump_archs` runs it, when
present, as a cross-check.
"""

from __future__ import annotations

import glob
import importlib.util
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_ELF = 1, 2
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY = 0x200000
EXTENSION_GLOB = "flash_attn_2_cuda*.so"


class FatbinError(Exception):
    """The file is not an ELF64 shared object we can read."""


@dataclass(frozen=True)
class Entry:
    kind: str  # "sass" or "ptx"
    arch: str  # "sm_90", "sm_90a", "compute_90"
    size: int


@dataclass
class FatbinInfo:
    path: str
    entries: list[Entry] = field(default_factory=list)
    containers: int = 0

    @property
    def sass(self) -> list[str]:
        return sort_archs({e.arch for e in self.entries if e.kind == "sass"})

    @property
    def ptx(self) -> list[str]:
        return sort_archs({e.arch for e in self.entries if e.kind == "ptx"})


def sort_archs(archs: set[str] | list[str]) -> list[str]:
    def key(arch: str) -> tuple[int, str]:
        digits = re.sub(r"\D", "", arch)
        return (int(digits) if digits else 0, arch)

    return sorted(set(archs), key=key)


def arch_name(kind: int, arch: int, flags: int) -> str:
    prefix = "compute_" if kind == KIND_PTX else "sm_"
    suffix = "a" if flags & FLAG_ARCH_SPECIFIC else ("f" if flags & FLAG_FAMILY else "")
    return f"{prefix}{arch}{suffix}"


def _sections(data: mmap.mmap | bytes) -> dict[str, tuple[int, int]]:
    """name -> (file offset, size) of every section of an ELF64 little-endian file."""
    if data[:4] != b"\x7fELF":
        raise FatbinError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise FatbinError("only 64-bit little-endian ELF files are supported")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0 or shoff + shnum * shentsize > len(data):
        raise FatbinError("ELF file has no readable section table")
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    out: dict[str, tuple[int, int]] = {}
    for name_off, sh_type, _flags, _addr, offset, size in headers:
        start = strtab + name_off
        end = data.find(b"\0", start)
        name = bytes(data[start:end]).decode("ascii", "replace")
        if sh_type != 8:  # SHT_NOBITS has no bytes in the file
            out[name] = (offset, size)
    return out


def _parse_containers(data: mmap.mmap | bytes, start: int, end: int, info: FatbinInfo) -> None:
    pos = start
    while pos + 16 <= end:
        magic, _version, header_size, payload = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:
            pos += 8  # padding between containers
            continue
        info.containers += 1
        entry, stop = pos + header_size, min(pos + header_size + payload, end)
        while entry + 48 <= stop:
            kind, _ver, entry_header, size = struct.unpack_from("<HHIQ", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            flags = struct.unpack_from("<Q", data, entry + 40)[0]
            if entry_header < 48:
                raise FatbinError(f"corrupt fatbin entry at offset {entry}")
            if kind in (KIND_PTX, KIND_ELF):
                info.entries.append(Entry("ptx" if kind == KIND_PTX else "sass",
                                          arch_name(kind, arch, flags), size))
            entry += entry_header + size
        pos = stop


def read_fatbin(path: str | os.PathLike[str]) -> FatbinInfo:
    """List the SASS and PTX entries of the CUDA fat binary inside an ELF shared object."""
    info = FatbinInfo(path=str(path))
    with open(path, "rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # empty file
            raise FatbinError("empty file") from exc
        with data:
            sections = _sections(data)
            if ".nv_fatbin" in sections:
                offset, size = sections[".nv_fatbin"]
                _parse_containers(data, offset, offset + size, info)
            else:  # unusual linkers: scan the file for container headers
                needle = struct.pack("<IH", FATBIN_MAGIC, 1)
                hit = data.find(needle)
                while hit >= 0:
                    _parse_containers(data, hit, hit + 16 + struct.unpack_from(
                        "<Q", data, hit + 8)[0], info)
                    hit = data.find(needle, hit + 16)
    return info


# --- cuobjdump cross-check -------------------------------------------------------------------

def find_cuobjdump() -> str | None:
    """cuobjdump on PATH, in a CUDA install, or from the nvidia-cuda-cuobjdump wheel."""
    env = os.environ.get("GEN_CUOBJDUMP")
    if env and os.access(env, os.X_OK):
        return env
    found = shutil.which("cuobjdump")
    if found:
        return found
    candidates = ["/usr/local/cuda/bin/cuobjdump",
                  *sorted(glob.glob("/usr/local/cuda-*/bin/cuobjdump"))]
    for entry in sys.path:
        if entry and os.path.isdir(os.path.join(entry, "nvidia")):
            candidates += sorted(glob.glob(os.path.join(entry, "nvidia", "*", "bin", "cuobjdump")))
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


_LIST_LINE = re.compile(
    r"^(ELF|PTX) file\s+\d+:\s+\S*?\.((?:sm|compute)_\d+[a-z]?)\.(?:cubin|ptx)\s*$")


def parse_cuobjdump_list(text: str) -> tuple[list[str], list[str]]:
    """(sass, ptx) arch names from `cuobjdump --list-elf --list-ptx` output."""
    sass: set[str] = set()
    ptx: set[str] = set()
    for line in text.splitlines():
        match = _LIST_LINE.match(line.strip())
        if not match:
            continue
        arch = match.group(2)
        if match.group(1) == "ELF":
            sass.add(arch)
        else:  # cuobjdump names PTX after the SASS arch it targets: x.sm_90.ptx
            ptx.add("compute_" + arch.split("_", 1)[1])
    return sort_archs(sass), sort_archs(ptx)


def cuobjdump_archs(path: str, tool: str | None = None,
                    timeout: float = 60.0) -> tuple[list[str], list[str]] | None:
    """(sass, ptx) according to cuobjdump, or None when it is absent."""
    tool = tool or find_cuobjdump()
    if not tool:
        return None
    proc = subprocess.run([tool, "--list-elf", "--list-ptx", path], capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0 and not proc.stdout.strip():
        raise FatbinError(f"cuobjdump failed: {(proc.stderr or '').strip()[:300]}")
    return parse_cuobjdump_list(proc.stdout)


def same_archs(ours: list[str], theirs: list[str]) -> bool:
    """Compare arch lists; cuobjdump (13.x) drops the f of family archs, so ignore it."""
    def norm(items: list[str]) -> set[str]:
        return {a[:-1] if a.endswith("f") else a for a in items}

    return norm(ours) == norm(theirs)


# --- locating the extension without importing it --------------------------------------------

def locate_extension(package: str = "flash_attn", pattern: str = EXTENSION_GLOB) -> str | None:
    """Path of flash-attn's CUDA extension, found without importing anything."""
    try:
        spec = importlib.util.find_spec("flash_attn_2_cuda")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin and os.path.isfile(spec.origin):
        return spec.origin
    dirs: list[str] = []
    try:
        pkg = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        pkg = None
    for location in (pkg.submodule_search_locations or []) if pkg else []:
        dirs += [location, os.path.dirname(location)]
    dirs += [p for p in sys.path if p and os.path.isdir(p)]
    for folder in dirs:
        hits = sorted(glob.glob(os.path.join(folder, pattern)))
        if hits:
            return hits[0]
    return None
