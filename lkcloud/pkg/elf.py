"""Just enough ELF reading for packaging: the interpreter, the needed libraries, a section's bytes.

Parses headers with :mod:`struct` (no ``ldd``, no running the binary), so it works for any
architecture and never executes what it inspects.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x7fELF"
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29


class ElfError(ValueError):
    """The file is not an ELF file, or its headers are inconsistent."""


@dataclass(frozen=True)
class Dynamic:
    """What the dynamic loader needs to run a binary."""

    interpreter: str | None  # PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2
    needed: tuple[str, ...]  # DT_NEEDED sonames, in order
    runpath: tuple[str, ...]  # DT_RUNPATH (or DT_RPATH) directories
    machine: int


@dataclass(frozen=True)
class _Header:
    is64: bool
    endian: str
    machine: int
    phoff: int
    shoff: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def _header(data: bytes) -> _Header:
    if len(data) < 52 or data[:4] != MAGIC:
        raise ElfError("not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        fields = struct.unpack_from(endian + "HHIQQQIHHHHHH", data, 16)
    else:
        fields = struct.unpack_from(endian + "HHIIIIIHHHHHH", data, 16)
    _type, machine, _ver, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum, shentsize, shnum, shstrndx = fields
    return _Header(is64, endian, machine, phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx)


def _segments(data: bytes, h: _Header) -> list[tuple[int, int, int, int]]:
    """Program headers as (type, offset, vaddr, filesz)."""
    out = []
    for i in range(h.phnum):
        at = h.phoff + i * h.phentsize
        if h.is64:
            p_type, _flags, off, vaddr, _paddr, filesz = struct.unpack_from(h.endian + "IIQQQQ", data, at)
        else:
            p_type, off, vaddr, _paddr, filesz = struct.unpack_from(h.endian + "IIIII", data, at)
        out.append((p_type, off, vaddr, filesz))
    return out


def _cstring(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode(errors="replace")


def _file_offset(loads: list[tuple[int, int, int, int]], vaddr: int) -> int:
    for _type, off, start, size in loads:
        if start <= vaddr < start + size:
            return off + vaddr - start
    raise ElfError(f"address {vaddr:#x} is in no loaded segment")


def dynamic(path: Path) -> Dynamic:
    """The interpreter, needed sonames and run path of an ELF executable or shared object."""
    data = path.read_bytes()
    try:
        h = _header(data)
        segments = _segments(data, h)
        interp = next((_cstring(data, off) for t, off, _v, _s in segments if t == PT_INTERP), None)
        dyn = next(((off, size) for t, off, _v, size in segments if t == PT_DYNAMIC), None)
        if dyn is None:
            return Dynamic(interp, (), (), h.machine)
        entries = _dynamic_entries(data, h, *dyn)
        strtab = next((v for tag, v in entries if tag == DT_STRTAB), None)
        if strtab is None:
            raise ElfError("dynamic section without a string table")
        base = _file_offset([s for s in segments if s[0] == PT_LOAD], strtab)
    except struct.error as exc:
        raise ElfError(f"truncated ELF headers: {exc}") from exc
    needed = tuple(_cstring(data, base + v) for tag, v in entries if tag == DT_NEEDED)
    paths = [_cstring(data, base + v) for tag, v in entries if tag in (DT_RUNPATH, DT_RPATH)]
    runpath = tuple(part for p in paths for part in p.split(":") if part)
    return Dynamic(interp, needed, runpath, h.machine)


def _dynamic_entries(data: bytes, h: _Header, offset: int, size: int) -> list[tuple[int, int]]:
    fmt = h.endian + ("qQ" if h.is64 else "iI")
    step = struct.calcsize(fmt)
    entries = []
    for at in range(offset, offset + size - step + 1, step):
        tag, value = struct.unpack_from(fmt, data, at)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    return entries


def section(path: Path, name: str) -> bytes | None:
    """The raw bytes of the section called ``name`` (e.g. ``.modinfo``), or None."""
    data = path.read_bytes()
    try:
        h = _header(data)
        fmt = h.endian + ("IIQQQQ" if h.is64 else "IIIIII")
        headers = [struct.unpack_from(fmt, data, h.shoff + i * h.shentsize) for i in range(h.shnum)]
    except struct.error as exc:
        raise ElfError(f"truncated ELF section headers: {exc}") from exc
    if not headers or h.shstrndx >= len(headers):
        return None
    names_at = headers[h.shstrndx][4]
    for sh_name, _type, _flags, _addr, offset, size in headers:
        if _cstring(data, names_at + sh_name) == name:
            return data[offset : offset + size]
    return None
