"""The GCE image tarball: ``disk.raw`` (a whole number of GiB) in an old-GNU sparse tar, gzipped
on every core with mtime 0, streamed straight from the disk file (no uncompressed tar on disk)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from lkcloud.formats import gnutar, sparse
from lkcloud.pgzip import ParallelGzip

MEMBER = "disk.raw"
LEVEL = 6


def write_tar_gz(disk: Path, out: BinaryIO, mtime: int, level: int = LEVEL) -> gnutar.Member:
    """Stream ``disk`` into ``out`` as ``disk.raw`` in a sparse .tar.gz; returns the member written."""
    size = disk.stat().st_size
    with disk.open("rb") as src:
        member = gnutar.Member(MEMBER, size, tuple(sparse.data_map(src, size)), mtime)
        with ParallelGzip(out, level=level) as gz:
            for chunk in gnutar.stream(member, src):
                gz.write(chunk)
    return member
