"""The data map: holes and all-zero blocks left out, data runs merged."""

from __future__ import annotations

import io
from pathlib import Path

from lkcloud.disk import sparse
from tests.support.files import sparse_file

MIB = 1 << 20


def test_holes_and_zero_blocks_are_skipped(tmp_path: Path) -> None:
    path = sparse_file(
        tmp_path / "f",
        64 * MIB,
        {
            0: b"a" * 4096,
            4096: bytes(8192),  # written zeros: allocated but left out
            12288: b"b" * 100,  # a partial block counts as a whole block
            10 * MIB: b"c" * (2 * MIB),
            40 * MIB: b"d",
        },
    )
    with path.open("rb") as fh:
        assert sparse.data_map(fh, 64 * MIB) == [
            (0, 4096),
            (12288, 4096),
            (10 * MIB, 2 * MIB),
            (40 * MIB, 4096),
        ]


def test_empty_and_full_files(tmp_path: Path) -> None:
    with sparse_file(tmp_path / "e", MIB, {}).open("rb") as fh:
        assert sparse.data_map(fh, MIB) == []
    with sparse_file(tmp_path / "f", 3 * MIB, {0: b"x" * (3 * MIB)}).open("rb") as fh:
        assert sparse.data_map(fh, 3 * MIB) == [(0, 3 * MIB)]


def test_copy_sparse_keeps_bytes_and_holes(tmp_path: Path) -> None:
    src = sparse_file(tmp_path / "s", 32 * MIB, {5 * MIB: b"z" * 12345, 31 * MIB: b"y" * 10})
    dst = tmp_path / "d"
    with src.open("rb") as fin, dst.open("wb") as fout:
        sparse.copy_sparse(fin, fout, 32 * MIB)
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_blocks * 512 < MIB


def test_works_on_a_stream_without_holes() -> None:
    data = b"\0" * 8192 + b"q" * 10 + b"\0" * 9000
    fh = io.BufferedReader(io.BytesIO(data))
    assert list(sparse._nonzero(fh, 0, len(data))) == [(8192, 4096)]
