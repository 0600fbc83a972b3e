"""An old-GNU sparse tar writer (typeflag ``S``): one member, holes left out, streamed.

Layout (GNU tar's ``oldgnu`` format): the header holds 4 sparse entries (offset, numbytes) at
386, ``isextended`` at 482 and the real size at 483; further entries follow in extension blocks
of 21 with their flag at 504. The member's ``size`` counts only the stored bytes. A map that
ends in a hole gets a trailing zero-length entry at the real size. Numbers are octal, GNU
base-256 where they do not fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 512
RECORD = 20 * BLOCK  # GNU tar's default blocking factor
HEADER_ENTRIES = 4
EXTENSION_ENTRIES = 21
SPARSE_OFFSET = 386
IS_EXTENDED = 482
REALSIZE = 483
EXTENSION_FLAG = 504
MAGIC = b"ustar  \0"
_READ = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    realsize: int
    extents: tuple[tuple[int, int], ...]  # (offset, length) of the data that is stored
    mtime: int
    mode: int = 0o644

    @property
    def stored(self) -> int:
        return sum(length for _, length in self.extents)


def number(value: int, width: int) -> bytes:
    """A tar numeric field: octal with a NUL, or GNU base-256 when octal does not fit."""
    digits = width - 1
    if value < 8**digits:
        return f"{value:0{digits}o}".encode() + b"\0"
    if value >= 256 ** (width - 1):
        raise ValueError(f"{value} does not fit a {width}-byte tar field")
    return b"\x80" + value.to_bytes(width - 1, "big")


def sparse_map(member: Member) -> list[tuple[int, int]]:
    """The entries to record: the extents, plus a zero-length entry at the end if it is a hole."""
    entries = list(member.extents)
    end = entries[-1][0] + entries[-1][1] if entries else 0
    if end < member.realsize or not entries:
        entries.append((member.realsize, 0))
    return entries


def _entry(offset: int, length: int) -> bytes:
    return number(offset, 12) + number(length, 12)


def header(member: Member) -> bytes:
    """The header block and any extension blocks."""
    entries = sparse_map(member)
    block = bytearray(BLOCK)
    block[0:100] = member.name.encode()[:100].ljust(100, b"\0")
    block[100:108] = number(member.mode, 8)
    block[108:116] = number(0, 8)
    block[116:124] = number(0, 8)
    block[124:136] = number(member.stored, 12)
    block[136:148] = number(member.mtime, 12)
    block[156:157] = b"S"
    block[257:265] = MAGIC
    block[265:269] = b"root"
    block[297:301] = b"root"
    for index, (offset, length) in enumerate(entries[:HEADER_ENTRIES]):
        at = SPARSE_OFFSET + 24 * index
        block[at : at + 24] = _entry(offset, length)
    rest = entries[HEADER_ENTRIES:]
    block[IS_EXTENDED] = 1 if rest else 0
    block[REALSIZE : REALSIZE + 12] = number(member.realsize, 12)
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    blocks = [bytes(block)]
    for start in range(0, len(rest), EXTENSION_ENTRIES):
        ext = bytearray(BLOCK)
        for index, (offset, length) in enumerate(rest[start : start + EXTENSION_ENTRIES]):
            ext[24 * index : 24 * index + 24] = _entry(offset, length)
        ext[EXTENSION_FLAG] = 1 if start + EXTENSION_ENTRIES < len(rest) else 0
        blocks.append(bytes(ext))
    return b"".join(blocks)


def stream(member: Member, source: BinaryIO) -> Iterator[bytes]:
    """The whole archive as chunks: header, the stored extents, padding, end blocks and record padding."""
    head = header(member)
    yield head
    written = len(head)
    for offset, length in member.extents:
        source.seek(offset)
        remaining = length
        while remaining:
            chunk = source.read(min(_READ, remaining))
            if not chunk:
                raise EOFError(f"{member.name} is shorter than its sparse map says")
            yield chunk
            remaining -= len(chunk)
    written += member.stored
    tail = -written % BLOCK + 2 * BLOCK
    written += tail
    tail += -written % RECORD
    yield bytes(tail)
