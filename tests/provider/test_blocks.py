"""Block digests of an image (holes and zero blocks left out) and the difference of two."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lkcloud.provider import blocks
from lkcloud.provider.blocks import BLOCK
from tests.support.files import sparse_file


def test_scan_hashes_the_blocks_with_data_only(tmp_path: Path) -> None:
    size = 4 * BLOCK + 512  # a partial last block, like a VHD's footer
    disk = sparse_file(tmp_path / "d", size, {BLOCK + 100: b"x", 2 * BLOCK: bytes(BLOCK), 4 * BLOCK: b"f" * 512})
    found = blocks.scan(disk)
    assert sorted(found) == [1, 4]  # block 2 was written, but with zeros
    assert found[4] == hashlib.sha256(b"f" * 512).digest()
    assert found[1] == hashlib.sha256(disk.read_bytes()[BLOCK : 2 * BLOCK]).digest()
    assert blocks.block_digest(bytes(100)) is None


def test_diff_writes_changed_and_new_blocks_and_clears_emptied_ones() -> None:
    a, b, c, d, e, f = (bytes([n]) * 32 for n in range(6))
    found = blocks.diff({0: a, 1: b, 2: c, 9: d}, {0: a, 1: e, 3: f}, blocks=5)
    assert found == blocks.Diff(write=(1, 3), clear=(2,), same=(0,))  # block 9 is past the new end
    assert blocks.diff({0: b"?"}, {0: a}, blocks=1).write == (0,)  # data of unknown content
