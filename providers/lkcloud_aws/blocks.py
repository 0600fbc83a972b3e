"""A disk image as EBS snapshot blocks, and the journal that makes uploads resumable.

EBS direct snapshots have 512 KiB blocks (lkcloud fixes the size; it does not trust the
``BlockSize`` a server reports). Holes and all-zero blocks are never sent: an unwritten block of
an EBS snapshot reads as zeros.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lkcloud.provider.blocks import data_blocks

BLOCK_SIZE = 524288
_ZERO = bytes(BLOCK_SIZE)
_RECORD = struct.Struct("<Q")
COMPLETED_MARK = (1 << 64) - 1  # journal record: CompleteSnapshot was accepted


@dataclass(frozen=True)
class Block:
    index: int
    data: bytes  # exactly BLOCK_SIZE bytes (the last block zero-padded)

    @cached_property
    def digest(self) -> bytes:
        """Raw SHA-256 of data (computed where it is needed: in the worker that sends the block)."""
        return hashlib.sha256(self.data).digest()

    @property
    def checksum(self) -> str:
        return base64.b64encode(self.digest).decode()


def block_count(size: int) -> int:
    return -(-size // BLOCK_SIZE)


def candidate_blocks(path: Path) -> int:
    """How many blocks may hold data (holes excluded): the upload's progress total."""
    with path.open("rb", buffering=0) as fh:
        return sum(1 for _ in data_blocks(fh.fileno(), os.fstat(fh.fileno()).st_size, BLOCK_SIZE))


def scan(path: Path) -> Iterator[Block]:
    """The non-zero blocks of ``path`` in index order."""
    with path.open("rb", buffering=0) as fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size
        for index in data_blocks(fd, size, BLOCK_SIZE):
            data = os.pread(fd, BLOCK_SIZE, index * BLOCK_SIZE)
            if len(data) < BLOCK_SIZE:
                data = data.ljust(BLOCK_SIZE, b"\0")
            if data != _ZERO:
                yield Block(index, data)


def linear_checksum(digests: list[bytes]) -> str:
    """The LINEAR aggregate: SHA-256 over the blocks' raw digests in index order, base64."""
    return base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()


class Journal:
    """Block indices a snapshot has acknowledged, appended as 8-byte records (one write per
    block, O_APPEND, so a killed process loses at most the blocks still in flight)."""

    def __init__(self, directory: Path, snapshot_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{snapshot_id}.blocks"
        self._fd: int | None = None

    def load(self) -> tuple[frozenset[int], bool]:
        """(acknowledged block indices, whether CompleteSnapshot was accepted)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return frozenset(), False
        whole = len(raw) - len(raw) % _RECORD.size
        values = {value for (value,) in _RECORD.iter_unpack(raw[:whole])}
        completed = COMPLETED_MARK in values
        values.discard(COMPLETED_MARK)
        return frozenset(values), completed

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def add(self, index: int) -> None:
        assert self._fd is not None
        os.write(self._fd, _RECORD.pack(index))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
