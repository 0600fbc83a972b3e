"""Block digests of a disk image, and the difference of two: what an incremental push writes.

Images are compared in 512 KiB blocks (:data:`lkcloud.disk.layout.BLOCK`: the disk layout keeps
a part's blocks in place when another part changes). A block is known by the SHA-256 of its
bytes; a block of zeros has none (it reads as zeros wherever it is not written). What a pushed
image holds is kept in a manifest (:mod:`lkcloud.provider.manifests`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lkcloud.disk import layout
from lkcloud.disk.sparse import allocated

BLOCK = layout.BLOCK
_ZERO = bytes(BLOCK)


def block_digest(data: bytes) -> bytes | None:
    """The SHA-256 of one block's bytes, or None when they are all zeros (a block without data)."""
    zero = data == (_ZERO if len(data) == BLOCK else bytes(len(data)))  # bytes == bytes: memcmp speed
    return None if zero else hashlib.sha256(data).digest()


def data_blocks(fd: int, length: int, block: int = BLOCK) -> list[int]:
    """The indices of the ``block``-sized blocks of the first ``length`` bytes of ``fd`` that may
    hold data (the file system's holes skipped), in order."""
    indices: set[int] = set()
    for start, extent in allocated(fd, length):
        indices.update(range(start // block, (start + extent - 1) // block + 1))
    return sorted(indices)


def scan(path: Path, size: int | None = None, block: int = BLOCK) -> dict[int, bytes]:
    """``{index: SHA-256}`` of every ``block`` of ``path`` holding a non-zero byte; holes and
    all-zero blocks are left out. The last block is hashed over the bytes it has."""
    found: dict[int, bytes] = {}
    with path.open("rb") as fh:
        fd = fh.fileno()
        length = os.fstat(fd).st_size if size is None else size
        for index in data_blocks(fd, length, block):
            digest = block_digest(os.pread(fd, min(block, length - index * block), index * block))
            if digest is not None:
                found[index] = digest
    return found


@dataclass(frozen=True)
class Diff:
    """What turns a base disk into a new one, block by block."""

    write: tuple[int, ...]  # blocks with data the base lacks or holds otherwise
    clear: tuple[int, ...]  # blocks the base holds data in that are all zeros now
    same: tuple[int, ...]  # blocks with data the base already holds


def diff(base: Mapping[int, bytes], new: Mapping[int, bytes], blocks: int) -> Diff:
    """The blocks (of the new disk's ``blocks``) to write, to clear and to leave. A base value
    that is no digest (e.g. a marker for data not read) never matches."""
    write = tuple(sorted(i for i, digest in new.items() if base.get(i) != digest))
    clear = tuple(sorted(i for i in base if i not in new and i < blocks))
    same = tuple(sorted(i for i, digest in new.items() if base.get(i) == digest))
    return Diff(write, clear, same)
