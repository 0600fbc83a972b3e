"""The parallel gzip writer: one ordinary member, same bytes whatever the thread count."""

from __future__ import annotations

import gzip
import io
import random
import struct
from pathlib import Path

import pytest

from lkcloud.initrd import pgzip
from lkcloud.process import run


def _payload(size: int) -> bytes:
    rng = random.Random(7)
    words = [bytes(rng.randrange(97, 123) for _ in range(rng.randrange(2, 9))) for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _compress(data: bytes, threads: int, write_size: int = 100_000) -> bytes:
    out = io.BytesIO()
    with pgzip.ParallelGzip(out, threads=threads) as gz:
        for at in range(0, len(data), write_size):
            gz.write(data[at : at + write_size])
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, pgzip.BLOCK, pgzip.BLOCK + 1, 3 * pgzip.BLOCK + 12345])
def test_round_trip(size: int) -> None:
    data = _payload(size)
    assert gzip.decompress(_compress(data, 2)) == data


def test_independent_of_threads_and_write_sizes() -> None:
    data = _payload(3 * pgzip.BLOCK + 999)
    one = _compress(data, 1)
    assert _compress(data, 2) == one
    assert _compress(data, 4, write_size=7777) == one


def test_single_member_with_mtime_zero(tmp_path: Path) -> None:
    data = _payload(2 * pgzip.BLOCK + 5)
    blob = _compress(data, 2)
    assert blob[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert struct.unpack("<II", blob[-8:])[1] == len(data)
    path = tmp_path / "x.gz"
    path.write_bytes(blob)
    run(["gzip", "-t", path])
    listing = run(["gzip", "-lv", path]).text  # gzip -l reads the trailer of the (single) member
    assert str(len(data)) in listing


def test_incompressible_blocks_are_stored() -> None:
    noise = random.Random(3).randbytes(2 * pgzip.BLOCK)
    text = _payload(pgzip.BLOCK)
    assert pgzip.incompressible(noise[: pgzip.BLOCK]) and not pgzip.incompressible(text)
    blob = _compress(noise + text, 2)
    assert gzip.decompress(blob) == noise + text
    assert len(noise) < len(blob) < len(noise) + len(text) // 2


def test_mixed_blocks_are_deflated_as_gzip_would() -> None:
    """Text and already-compressed data mixed in one block (an initrd's usual content): the block
    is deflated, not stored for its incompressible start, and the size stays gzip's."""
    rng = random.Random(5)
    data = b"".join(rng.randbytes(48 * 1024) + _payload(80 * 1024) for _ in range(24))
    assert not pgzip.incompressible(data[: pgzip.BLOCK])
    ours = len(_compress(data, 2))
    reference = len(gzip.compress(data, compresslevel=6))
    assert ours <= reference * 1.01
