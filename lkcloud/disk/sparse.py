"""Where a file's data is: allocated extents (``SEEK_DATA``/``SEEK_HOLE``) minus all-zero blocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 4096
_READ = 1 << 20
_ZERO_READ = bytes(_READ)
_ZERO_BLOCK = bytes(BLOCK)


def allocated(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of the file's allocated extents, as the file system reports them."""
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole remains
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end - start
        position = end


def _nonzero(fh: BinaryIO, start: int, length: int) -> Iterator[tuple[int, int]]:
    """Runs of non-zero ``BLOCK``s within one extent."""
    fh.seek(start)
    run_start = -1
    offset = start
    end = start + length
    while offset < end:
        chunk = fh.read(min(_READ, end - offset))
        if not chunk:
            break
        if chunk == _ZERO_READ[: len(chunk)]:
            if run_start >= 0:
                yield run_start, offset - run_start
                run_start = -1
            offset += len(chunk)
            continue
        view = memoryview(chunk)
        for at in range(0, len(chunk), BLOCK):
            piece = view[at : at + BLOCK]
            zero = piece == _ZERO_BLOCK[: len(piece)]
            if zero and run_start >= 0:
                yield run_start, offset + at - run_start
                run_start = -1
            elif not zero and run_start < 0:
                run_start = offset + at
        offset += len(chunk)
    if run_start >= 0:
        yield run_start, offset - run_start


def data_map(fh: BinaryIO, size: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of every run of non-zero data, sorted, merged, holes and zeros left out."""
    merged: list[tuple[int, int]] = []
    for start, length in allocated(fh.fileno(), size):
        for run_start, run_length in _nonzero(fh, start, length):
            if merged and merged[-1][0] + merged[-1][1] == run_start:
                merged[-1] = (merged[-1][0], merged[-1][1] + run_length)
            else:
                merged.append((run_start, run_length))
    return merged


def copy_sparse(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    """Copy ``size`` bytes keeping holes (and leaving zero blocks unwritten)."""
    dst.truncate(size)
    for start, length in data_map(src, size):
        src.seek(start)
        dst.seek(start)
        remaining = length
        while remaining:
            chunk = src.read(min(_READ, remaining))
            dst.write(chunk)
            remaining -= len(chunk)
