"""A gzip writer that compresses on several cores and still makes one ordinary gzip member.

Input is cut into fixed 1 MiB blocks; each is deflated on a thread (zlib releases the GIL)
with the previous block's last 32 KiB as dictionary and ends with a sync flush, the last with
a final block. A block is stored instead only when samples taken across all of it do not
compress (an already-compressed kernel or archive): mixed blocks are deflated, and zlib stores
their incompressible stretches itself. The blocks concatenate into one deflate stream; the CRC-32 runs over the input
in order. Fixed block boundaries make the output independent of the number of threads.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import BinaryIO

BLOCK = 1 << 20
WINDOW = 32 * 1024
SAMPLES = 16  # spread evenly over a block
SAMPLE = 1024
STORE_RATIO = 0.98
MEM_LEVEL = 8  # gzip's and pigz's: 9 makes larger deflate blocks, worse on mixed content
HEADER = b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\xff"  # deflate, no flags, mtime 0, OS unknown


def incompressible(data: bytes) -> bool:
    """True when no sample across the block shrinks: already-compressed kernels and initrds are
    stored, not ground through deflate for nothing. A block that is only partly incompressible
    (text after a compressed file, as often in an initrd) is deflated. Decided by content alone,
    so output stays reproducible."""
    if len(data) < SAMPLES * SAMPLE:
        return False
    stride = len(data) // SAMPLES
    for at in range(0, SAMPLES * stride, stride):
        sample = data[at : at + SAMPLE]
        if len(zlib.compress(sample, 1)) <= len(sample) * STORE_RATIO:
            return False
    return True


def _deflate(data: bytes, dictionary: bytes, level: int, last: bool) -> bytes:
    if level and incompressible(data):
        level = 0
    if dictionary:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15, MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary)
    else:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15, MEM_LEVEL)
    return comp.compress(data) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelGzip:
    """``write()`` bytes, ``close()`` to finish; writes the gzip stream to ``out``."""

    def __init__(self, out: BinaryIO, level: int = 6, threads: int | None = None, block: int = BLOCK) -> None:
        self._out = out
        self._level = level
        self._block = block
        self._threads = threads or min(os.cpu_count() or 1, 8)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="pgzip")
        self._pending: deque[Future[bytes]] = deque()
        self._buffer = bytearray()
        self._dictionary = b""
        self._crc = 0
        self._size = 0
        self._out.write(HEADER)

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._buffer += data
        while len(self._buffer) > self._block:  # keep at least one byte back: the last block ends the stream
            self._submit(bytes(self._buffer[: self._block]), last=False)
            del self._buffer[: self._block]

    def _submit(self, block: bytes, *, last: bool) -> None:
        self._pending.append(self._pool.submit(_deflate, block, self._dictionary, self._level, last))
        self._dictionary = block[-WINDOW:]
        while len(self._pending) > 2 * self._threads:
            self._out.write(self._pending.popleft().result())

    def close(self) -> None:
        """Finish the stream: the last block, then CRC-32 and size."""
        self._submit(bytes(self._buffer), last=True)
        self._buffer.clear()
        while self._pending:
            self._out.write(self._pending.popleft().result())
        self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        self._pool.shutdown()

    def __enter__(self) -> ParallelGzip:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._pool.shutdown(cancel_futures=True)
