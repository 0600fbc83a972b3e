"""``gcp``: GCE's image tarball, ``disk.raw`` (a whole number of GiB) in an old-GNU sparse tar,
gzipped on every core with mtime 0, streamed straight from the disk file (no uncompressed tar on
disk)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from lkcloud.disk import gnutar, sparse
from lkcloud.disk.bootdisk import DiskKind
from lkcloud.disk.ids import GIB
from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.staging import disk_format, output, source_disk
from lkcloud.fsutil import atomic_path
from lkcloud.initrd.pgzip import ParallelGzip
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter

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


def write_gcp(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    """GCE's disk.raw (whole GiB) in a sparse GNU tar, gzipped on every core."""
    target = output(inputs, ".img.tar.gz", reporter)
    disk = source_disk(inputs, DiskKind.HYBRID, GIB)
    with atomic_path(target) as tmp, tmp.open("wb") as out:
        write_tar_gz(disk.path, out, inputs.source_date_epoch)
    return [target]


FORMATS: dict[str, Format] = {
    "gcp": disk_format("gcp", ".img.tar.gz", write_gcp, BootMode.HYBRID, "GCE image: sparse disk.raw in a .tar.gz"),
}
