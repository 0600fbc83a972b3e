"""MBR sectors: entries, CHS, boot code and signature."""

from __future__ import annotations

import struct

from lkcloud.disk import mbr


def test_chs_small_and_clamped() -> None:
    assert mbr.chs(0) == bytes([0, 1, 0])
    assert mbr.chs(2048) == bytes([32, 33, 0])  # cylinder 0, head 32, sector 33
    assert mbr.chs(1 << 30) == bytes([254, 0xFF, 0xFF])


def test_sector_layout() -> None:
    code = bytes(range(256)) * 2
    entry = mbr.Entry(mbr.ACTIVE, mbr.FAT32_LBA, 2048, 81920)
    sector = mbr.sector(code, 0xDEADBEEF, [entry])
    assert len(sector) == 512
    assert sector[:440] == code[:440]
    assert struct.unpack_from("<I", sector, 440)[0] == 0xDEADBEEF
    assert sector[446] == 0x80 and sector[450] == 0x0C
    assert struct.unpack_from("<II", sector, 454) == (2048, 81920)
    assert sector[462:510] == bytes(48)
    assert sector[510:] == b"\x55\xaa"
    assert mbr.read_entries(sector) == [entry]
