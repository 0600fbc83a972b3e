"""Blocks of a disk image: holes and zero blocks skipped, padding, the LINEAR checksum, the journal."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from lkcloud_aws.blocks import BLOCK_SIZE, COMPLETED_MARK, Journal, linear_checksum, scan
from tests.providers.aws.conftest import make_image


def test_scan_skips_holes_and_zero_blocks_and_pads_the_last(tmp_path: Path) -> None:
    size = 5 * BLOCK_SIZE + 100
    image = make_image(tmp_path / "disk.raw", size, {
        10: b"a" * 10,  # block 0
        2 * BLOCK_SIZE: bytes(BLOCK_SIZE),  # block 2 written, but zeros
        3 * BLOCK_SIZE - 1: b"xy",  # straddles blocks 2 and 3
        5 * BLOCK_SIZE + 50: b"tail",  # block 5, partial
    })
    blocks = list(scan(image))
    assert [b.index for b in blocks] == [0, 2, 3, 5]
    assert all(len(b.data) == BLOCK_SIZE for b in blocks)
    assert blocks[-1].data[50:54] == b"tail" and blocks[-1].data[100:] == bytes(BLOCK_SIZE - 100)
    assert blocks[0].checksum == base64.b64encode(hashlib.sha256(blocks[0].data).digest()).decode()


def test_linear_checksum_is_sha256_of_concatenated_raw_digests() -> None:
    digests = [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
    expected = base64.b64encode(hashlib.sha256(digests[0] + digests[1]).digest()).decode()
    assert linear_checksum(digests) == expected


def test_journal_survives_a_torn_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "snap-1")
    journal.open()
    for index in (3, 1, 2):
        journal.add(index)
    journal.close()
    with journal.path.open("ab") as fh:
        fh.write(b"\x01\x02")  # a write cut short by a kill
    assert journal.load() == (frozenset({1, 2, 3}), False)
    journal.path.write_bytes(journal.path.read_bytes()[:24])
    journal.open()
    journal.add(COMPLETED_MARK)
    journal.close()
    assert journal.load() == (frozenset({1, 2, 3}), True)
    journal.remove()
    assert journal.load() == (frozenset(), False)
