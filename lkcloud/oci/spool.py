"""File data of unpacked layers, kept out of memory.

A :class:`Spool` keeps small files in memory up to a budget and appends everything else to one
anonymous temporary file (in ``$TMPDIR``, removed when the last entry using it is gone), so
unpacking an image costs a bounded amount of memory whatever its files weigh. A file's data is
then ``bytes`` or a :class:`Spooled` range of that file.
"""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, BinaryIO

from lkcloud.errors import BuildError

INLINE_MAX = 1 << 20  # a file up to this size may stay in memory...
MEMORY = 64 << 20  # ...while the spool holds less than this in memory
CHUNK = 1 << 20


class Spooled:
    """``size`` bytes at ``offset`` of a spool's file."""

    __slots__ = ("offset", "size", "spool")

    def __init__(self, spool: Spool, offset: int, size: int) -> None:
        self.spool, self.offset, self.size = spool, offset, size

    def __len__(self) -> int:
        return self.size

    def chunks(self) -> Iterator[bytes]:
        fd, position, end = self.spool.fileno(), self.offset, self.offset + self.size
        while position < end:
            chunk = os.pread(fd, min(CHUNK, end - position), position)
            if not chunk:
                raise BuildError("the spool file of unpacked layers was truncated")
            position += len(chunk)
            yield chunk

    def open(self) -> BinaryIO:
        return io.BufferedReader(_RangeReader(self), CHUNK)

    def read(self) -> bytes:
        return b"".join(self.chunks())


Data = bytes | Spooled


def open_data(data: Data) -> BinaryIO:
    """A reader of ``data``, wherever it is kept."""
    return io.BytesIO(data) if isinstance(data, bytes) else data.open()


class _RangeReader(io.RawIOBase):
    def __init__(self, spooled: Spooled) -> None:
        self._spooled = spooled
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        left = self._spooled.size - self._position
        if left <= 0:
            return 0
        want = min(len(buffer), left)
        chunk = os.pread(self._spooled.spool.fileno(), want, self._spooled.offset + self._position)
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


class Spool:
    """Where one image's file data goes while the image is assembled."""

    def __init__(self, memory: int = MEMORY, directory: str | None = None) -> None:
        self._memory_left = memory
        self._directory = directory
        self._file: BinaryIO | None = None
        self._end = 0

    def fileno(self) -> int:
        assert self._file is not None
        return self._file.fileno()

    def _fd(self) -> int:
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self._directory, prefix="lkcloud-spool-")  # noqa: SIM115
        return self._file.fileno()

    def take(self, stream: IO[bytes], size: int, what: str) -> Data:
        """Exactly ``size`` bytes of ``stream``: in memory when small and the budget allows."""
        if size <= INLINE_MAX and size <= self._memory_left:
            data = stream.read(size)
            if len(data) != size:
                raise BuildError(f"{what}: the layer ends inside the file ({len(data)} of {size} bytes)")
            self._memory_left -= size
            return data
        spooled = self.take_chunks(iter(lambda: stream.read(min(CHUNK, size)), b""), limit=size)
        if spooled.size != size:
            raise BuildError(f"{what}: the layer ends inside the file ({spooled.size} of {size} bytes)")
        return spooled

    def take_all(self, stream: IO[bytes], limit: int) -> Data:
        """What ``stream`` holds up to its end, but no more than ``limit`` + 1 bytes (so a caller
        can tell that it was over): for files whose size is not known or not to be trusted."""
        head = stream.read(min(INLINE_MAX, limit + 1, self._memory_left) + 1)
        if len(head) <= min(INLINE_MAX, limit + 1, self._memory_left):
            self._memory_left -= len(head)
            return head
        rest = iter(lambda: stream.read(CHUNK), b"")
        return self.take_chunks(itertools.chain([head], rest), limit=limit + 1)

    def take_chunks(self, chunks: Iterable[bytes], limit: int | None = None) -> Spooled:
        """The bytes of ``chunks`` (at most ``limit``) appended to the spool file."""
        fd, start = self._fd(), self._end
        for chunk in chunks:
            view = memoryview(chunk)
            if limit is not None:
                view = view[: limit - (self._end - start)]
            while view:
                written = os.pwrite(fd, view, self._end)
                self._end += written
                view = view[written:]
            if limit is not None and self._end - start >= limit:
                break
        return Spooled(self, start, self._end - start)
