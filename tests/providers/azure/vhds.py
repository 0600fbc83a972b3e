"""Fixed VHDs for tests: a sparse raw disk with random data at chosen places, then a footer."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from lkcloud.disk import vhd

MIB = 1 << 20


def make_vhd(path: Path, disk_mib: int, extents: tuple[tuple[int, int], ...], seed: int = 1) -> Path:
    """``disk_mib`` MiB of sparse disk with random bytes at each (offset, length), plus a footer."""
    rng = random.Random(seed)
    size = disk_mib * MIB
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset, length in extents:
            fh.seek(offset)
            fh.write(rng.randbytes(length).replace(b"\0", b"\1"))
        fh.seek(size)
        fh.write(vhd.footer_bytes(vhd.Footer(size=size, timestamp=0, uuid=uuid.UUID(int=seed))))
    return path


def nonzero_spans(path: Path, granule: int = 512) -> list[tuple[int, int]]:
    """(start, end) of the file's non-zero ``granule``-byte runs, merged: what Azure should hold."""
    data = path.read_bytes()
    zero = bytes(granule)
    spans: list[tuple[int, int]] = []
    for offset in range(0, len(data), granule):
        if data[offset : offset + granule] != zero[: len(data) - offset]:
            if spans and spans[-1][1] == offset:
                spans[-1] = (spans[-1][0], offset + granule)
            else:
                spans.append((offset, min(offset + granule, len(data))))
    return spans
