"""The GCE image archive as a stream: ``disk.raw`` in an old-GNU sparse tar, gzipped.

The tar and gzip writers are lkcloud.formats' (the ``gcp`` build format uses the same ones);
this module only turns them into an iterator of compressed pieces, so that a raw disk goes
straight into an upload with no temporary file, and rounds the member's real size up to a whole
GiB (GCE requires it) with a trailing hole. The bytes are deterministic, which is what lets an
interrupted upload resume by regenerating the stream up to the committed offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from lkcloud.disk import gnutar, sparse
from lkcloud.formats.gcp import LEVEL, MEMBER
from lkcloud.initrd.pgzip import ParallelGzip

GIB = 1 << 30
VERSION = "3"  # bump when the bytes produced for the same disk change (names resumable sessions)


class _Pieces:
    """A write-only sink that hands what it is given back to the generator."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> Iterator[bytes]:
        parts, self.parts = self.parts, []
        return iter(parts)


def realsize_for(size: int) -> int:
    """The size GCE gets: ``size`` rounded up to a whole GiB (at least one)."""
    return max(1, -(-size // GIB)) * GIB


def member_for(src: BinaryIO, size: int, mtime: int = 0) -> gnutar.Member:
    return gnutar.Member(MEMBER, realsize_for(size), tuple(sparse.data_map(src, size)), mtime)


def gce_archive(path: Path, level: int = LEVEL, mtime: int = 0) -> Iterator[bytes]:
    """The gzipped GCE archive of the raw disk at ``path``, in pieces."""
    size = path.stat().st_size
    sink = _Pieces()
    with path.open("rb") as src:
        member = member_for(src, size, mtime)
        with ParallelGzip(cast(BinaryIO, sink), level=level) as gz:
            for chunk in gnutar.stream(member, src):
                gz.write(chunk)
                yield from sink.take()
    yield from sink.take()
