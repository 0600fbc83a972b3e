"""The newc (``070701``) cpio format the kernel unpacks: a writer, and a reader for checks."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from typing import Protocol

CPIO_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110
_NOT_ZERO = re.compile(rb"[^\x00]")


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


class CpioWriter:
    """A newc archive written to ``sink``; inode numbers count up from 1 in each archive."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._ino = 0

    def add(self, name: str, mode: int, *, uid: int = 0, gid: int = 0, mtime: int = 0, data: bytes = b"",
            rdevmajor: int = 0, rdevminor: int = 0) -> None:
        self._ino += 1
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (self._ino, mode, uid, gid, nlink, max(mtime, 0), len(data), 0, 0, rdevmajor, rdevminor,
                  len(encoded), 0)
        header = CPIO_MAGIC + b"".join(b"%08x" % (value & 0xFFFFFFFF) for value in fields)
        self._sink.write(header + encoded + _pad(len(header) + len(encoded)) + data + _pad(len(data)))

    def finish(self) -> None:
        """The trailer: the kernel's unpacker must see one at the end of every archive."""
        self._ino = -1
        self.add(TRAILER, 0)


def read_cpio(data: bytes) -> Iterator[tuple[str, int, int, int, int, bytes]]:
    """(name, mode, uid, gid, mtime, data) of every entry of concatenated newc archives, skipping
    zero padding between them (for checks)."""
    pos = 0
    while (found := _NOT_ZERO.search(data, pos)) and data.startswith(CPIO_MAGIC, found.start()):
        name, mode, uid, gid, mtime, body, pos = _entry(data, found.start())
        if name != TRAILER:
            yield name, mode, uid, gid, mtime, body


def archive_end(data: bytes, pos: int = 0) -> int:
    """Where the archive starting at ``pos`` ends: just after its trailer (or the data's end)."""
    while pos + HEADER_SIZE <= len(data) and data[pos : pos + 6] == CPIO_MAGIC:
        name, *_rest, pos = _entry(data, pos)
        if name == TRAILER:
            return pos
    return len(data)


def _entry(data: bytes, pos: int) -> tuple[str, int, int, int, int, bytes, int]:
    fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
    namesize, filesize = fields[11], fields[6]
    name = data[pos + HEADER_SIZE : pos + HEADER_SIZE + namesize - 1].decode()
    start = pos + HEADER_SIZE + namesize
    start += -start % 4
    body = data[start : start + filesize]
    end = start + filesize
    return name, fields[1], fields[2], fields[3], fields[5], body, end + -end % 4
