"""Unified kernel images: the systemd-boot stub with ``.osrel``, ``.cmdline``, ``.linux`` and
``.initrd`` appended as PE sections, packed tightly with ``struct`` (no objcopy, no ukify).

Each new section's virtual address follows the previous one, aligned to SectionAlignment; its
raw data is FileAlignment-aligned and zero-padded. The kernel and the initrd start on a
:data:`~lkcloud.disk.layout.BLOCK` boundary of the file, and the kernel gets room to grow, so
that (with the UKI itself placed on such a boundary of the disk) a new initrd leaves the
kernel's blocks alone and a segment of the initrd keeps its disk blocks. The header's section
count, SizeOfImage and SizeOfInitializedData are updated, the checksum is zero and the
certificate directory cleared.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lkcloud.disk import layout
from lkcloud.disk.fatwriter import copy_file
from lkcloud.disk.ids import align_up
from lkcloud.errors import BuildError

SECTION_SIZE = 40
DATA_READ = 0x40000040  # IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ
_SECTION = struct.Struct("<8sIIIIIIHHI")
CERTIFICATE_DIRECTORY = 4


@dataclass(frozen=True)
class Section:
    name: str  # at most 8 bytes, e.g. ".linux"
    source: Path | bytes
    align: int = 0  # where its raw data starts in the file (0: FileAlignment)
    room: int = 0  # file bytes it takes before the next section, at least its padded size

    @property
    def size(self) -> int:
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size


@dataclass(frozen=True)
class _Pe:
    """Offsets and fields of a PE32+ image we need to append sections."""

    coff: int
    optional: int
    sections: int
    count: int
    section_alignment: int
    file_alignment: int
    size_of_headers: int
    end_va: int  # end of the last existing section in memory


def _parse(stub: bytes) -> _Pe:
    if stub[:2] != b"MZ":
        raise BuildError("the UKI stub is not a PE image")
    pe = struct.unpack_from("<I", stub, 0x3C)[0]
    if stub[pe : pe + 4] != b"PE\0\0":
        raise BuildError("the UKI stub is not a PE image")
    count, opt_size = struct.unpack_from("<H", stub, pe + 6)[0], struct.unpack_from("<H", stub, pe + 20)[0]
    optional = pe + 24
    if struct.unpack_from("<H", stub, optional)[0] != 0x20B:
        raise BuildError("the UKI stub is not a PE32+ image")
    sect_align, file_align = struct.unpack_from("<II", stub, optional + 32)
    size_of_headers = struct.unpack_from("<I", stub, optional + 60)[0]
    sections = optional + opt_size
    end_va = 0
    for index in range(count):
        fields = _SECTION.unpack_from(stub, sections + SECTION_SIZE * index)
        end_va = max(end_va, fields[2] + max(fields[1], fields[3]))
    return _Pe(pe + 4, optional, sections, count, sect_align, file_align, size_of_headers, end_va)


def _headers(stub: bytes, pe: _Pe, sections: list[Section]) -> tuple[bytes, list[tuple[int, int]]]:
    """The stub with updated headers, and each new section's (raw offset, padded raw size)."""
    if pe.sections + SECTION_SIZE * (pe.count + len(sections)) > pe.size_of_headers:
        raise BuildError("the UKI stub has no header room for more sections")
    out = bytearray(stub)
    va = align_up(pe.end_va, pe.section_alignment)
    raw = align_up(len(stub), pe.file_alignment)
    placed = []
    added = 0
    for index, section in enumerate(sections):
        size = section.size
        raw = align_up(raw, max(pe.file_alignment, section.align))
        raw_size = align_up(size, pe.file_alignment)
        name = section.name.encode().ljust(8, b"\0")
        _SECTION.pack_into(
            out, pe.sections + SECTION_SIZE * (pe.count + index), name, size, va, raw_size, raw, 0, 0, 0, 0, DATA_READ
        )
        placed.append((raw, raw_size))
        added += raw_size
        va = align_up(va + size, pe.section_alignment)
        raw += max(raw_size, section.room)
    struct.pack_into("<H", out, pe.coff + 2, pe.count + len(sections))
    initialized = struct.unpack_from("<I", out, pe.optional + 8)[0]
    struct.pack_into("<I", out, pe.optional + 8, initialized + added)
    struct.pack_into("<I", out, pe.optional + 56, va)  # SizeOfImage: va is already aligned
    struct.pack_into("<I", out, pe.optional + 64, 0)  # CheckSum
    if struct.unpack_from("<I", out, pe.optional + 108)[0] > CERTIFICATE_DIRECTORY:
        struct.pack_into("<II", out, pe.optional + 112 + 8 * CERTIFICATE_DIRECTORY, 0, 0)
    return bytes(out), placed


def write(out: BinaryIO, stub: Path, sections: list[Section]) -> None:
    """Write the stub plus ``sections`` (in order) as one PE image."""
    data = stub.read_bytes()
    header, placed = _headers(data, _parse(data), sections)
    out.write(header)
    position = len(header)
    for section, (raw, raw_size) in zip(sections, placed, strict=True):
        out.seek(raw - position, io.SEEK_CUR)  # the gap reads as zeros, and stays a hole in a sparse file
        if isinstance(section.source, bytes):
            out.write(section.source)
        else:
            copy_file(section.source, out)
        out.write(bytes(raw_size - section.size))
        position = raw + raw_size


def image_size(stub: Path, sections: list[Section]) -> int:
    """The size in bytes :func:`write` produces."""
    data = stub.read_bytes()
    header, placed = _headers(data, _parse(data), sections)
    return placed[-1][0] + placed[-1][1] if placed else len(header)


def os_release(name: str) -> bytes:
    """A minimal os-release for the ``.osrel`` section."""
    return f'ID=lkcloud\nNAME="{name}"\nPRETTY_NAME="{name} (lkcloud)"\n'.encode()


def sections(name: str, kernel: Path, initrd: Path, cmdline: str) -> list[Section]:
    """The four sections a systemd-252 stub reads, in the conventional order, the initrd last."""
    return [
        Section(".osrel", os_release(name)),
        Section(".cmdline", cmdline.encode() + b"\0"),
        Section(".linux", kernel, layout.BLOCK, layout.room(kernel.stat().st_size)),
        Section(".initrd", initrd, layout.BLOCK),
    ]
