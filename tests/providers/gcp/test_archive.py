"""The streamed GCE archive: what the gcp build format writes, padded to whole GiB, and GNU tar
reads it back to the same disk."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from lkcloud.formats import gcp
from lkcloud.process import run
from lkcloud_gcp import archive


def _write(path: Path, size: int, chunks: list[tuple[int, bytes]]) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset, data in chunks:
            fh.seek(offset)
            fh.write(data)
    return path


def _extract(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "a.tar.gz").write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    run(["tar", "-xSzf", tmp_path / "a.tar.gz", "-C", out])
    return out / "disk.raw"


def _same_prefix(extracted: Path, original: Path) -> bool:
    """``extracted`` starts with ``original`` and holds only zeros (holes) after it."""
    with extracted.open("rb") as a, original.open("rb") as b:
        while chunk := b.read(1 << 20):
            if a.read(len(chunk)) != chunk:
                return False
        try:
            a.seek(os.lseek(a.fileno(), a.tell(), os.SEEK_DATA))
        except OSError:  # ENXIO: nothing but a hole remains
            return True
        return all(chunk.count(0) == len(chunk) for chunk in iter(lambda: a.read(1 << 20), b""))


def test_gnu_tar_extracts_the_disk_padded_to_a_gib(raw_disk: Path, tmp_path: Path) -> None:
    extracted = _extract(tmp_path, b"".join(archive.gce_archive(raw_disk)))
    assert extracted.stat().st_size == archive.GIB
    assert _same_prefix(extracted, raw_disk)
    listing = run(["tar", "-tvzf", tmp_path / "a.tar.gz"]).text
    assert listing.split()[-1] == "disk.raw" and str(archive.GIB) in listing


def test_same_bytes_as_the_gcp_build_format_for_a_whole_gib_disk(tmp_path: Path) -> None:
    disk = _write(tmp_path / "gib.raw", archive.GIB, [(i << 20, bytes([i]) * 5000) for i in range(1, 40, 3)])
    built = io.BytesIO()
    gcp.write_tar_gz(disk, built, mtime=0)
    assert b"".join(archive.gce_archive(disk)) == built.getvalue()


def test_many_extents(tmp_path: Path) -> None:
    disk = _write(tmp_path / "many.raw", 4 << 20, [(i * 64 * 1024, bytes([i + 1]) * 100) for i in range(30)])
    data = b"".join(archive.gce_archive(disk))
    assert gzip.decompress(data)[156:157] == b"S"
    assert _same_prefix(_extract(tmp_path, data), disk)


def test_all_hole_disk(tmp_path: Path) -> None:
    disk = _write(tmp_path / "empty.raw", 3 * archive.GIB // 2, [])
    assert _extract(tmp_path, b"".join(archive.gce_archive(disk))).stat().st_size == 2 * archive.GIB


def test_archive_is_deterministic(raw_disk: Path) -> None:
    first = b"".join(archive.gce_archive(raw_disk))
    assert first == b"".join(archive.gce_archive(raw_disk))
    assert first[4:8] == b"\0\0\0\0"  # gzip mtime 0


def test_realsize_rounds_up_to_whole_gib() -> None:
    assert archive.realsize_for(1) == archive.GIB
    assert archive.realsize_for(archive.GIB) == archive.GIB
    assert archive.realsize_for(archive.GIB + 1) == 2 * archive.GIB
