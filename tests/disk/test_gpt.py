"""GPT written in Python: parsed back field by field, CRCs checked, and sgdisk agrees."""

from __future__ import annotations

import struct
import uuid
import zlib
from pathlib import Path

import pytest

from lkcloud.disk import gpt, mbr
from lkcloud.errors import BuildError
from lkcloud.process import run

SIZE = 64 << 20
SECTORS = SIZE // 512
DISK = uuid.UUID("11111111-2222-3333-4444-555555555555")
PART = gpt.Partition(2048, 43007, gpt.ESP_TYPE, uuid.UUID("66666666-7777-8888-9999-aaaaaaaaaaaa"), "ESP", 4)


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    with path.open("wb") as fh:
        fh.truncate(SIZE)
        gpt.write(fh, SIZE, DISK, [PART])
    return path


def test_primary_and_backup_headers_parse_back(disk: Path) -> None:
    data = disk.read_bytes()
    primary = gpt.read_header(data[512:1024])
    backup = gpt.read_header(data[SIZE - 512 :])
    assert (primary.my_lba, primary.alternate_lba, primary.entries_lba) == (1, SECTORS - 1, 2)
    assert (backup.my_lba, backup.alternate_lba, backup.entries_lba) == (SECTORS - 1, 1, SECTORS - 33)
    for header in (primary, backup):
        assert (header.first_usable, header.last_usable) == (34, SECTORS - 34)
        assert header.disk_guid == DISK
    assert primary.entries_crc == backup.entries_crc
    assert gpt.read_entries(data[1024 : 1024 + 16384], primary) == [PART]
    start = (SECTORS - 33) * 512
    assert gpt.read_entries(data[start : start + 16384], backup) == [PART]


def test_golden_header_bytes(disk: Path) -> None:
    sector = disk.read_bytes()[512:1024]
    assert sector[:8] == b"EFI PART"
    assert struct.unpack_from("<III", sector, 8) == (
        0x00010000,
        92,
        zlib.crc32(sector[:16] + b"\0" * 4 + sector[20:92]),
    )
    assert sector[56:72] == DISK.bytes_le
    assert sector[92:] == bytes(420)
    entry = disk.read_bytes()[1024:1152]
    assert entry[:16] == bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")  # ESP type GUID, mixed-endian
    assert struct.unpack_from("<QQQ", entry, 32) == (2048, 43007, 4)
    assert entry[56:62] == "ESP".encode("utf-16-le")


def test_protective_mbr(disk: Path) -> None:
    entries = mbr.read_entries(disk.read_bytes()[:512])
    assert entries == [mbr.Entry(0, 0xEE, 1, SECTORS - 1)]


def test_crc_mismatch_is_detected(disk: Path) -> None:
    data = bytearray(disk.read_bytes())
    data[1024 + 100] ^= 0xFF  # inside the first entry's name
    header = gpt.read_header(bytes(data[512:1024]))
    with pytest.raises(BuildError, match="entries CRC"):
        gpt.read_entries(bytes(data[1024 : 1024 + 16384]), header)
    data[512 + 40] ^= 0xFF
    with pytest.raises(BuildError, match="header CRC"):
        gpt.read_header(bytes(data[512:1024]))


def test_sgdisk_verifies_and_reads_our_table(disk: Path) -> None:
    verify = run(["sgdisk", "-v", disk]).text
    assert "No problems found" in verify
    info = run(["sgdisk", "-i", "1", disk]).text
    assert "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" in info
    assert "66666666-7777-8888-9999-AAAAAAAAAAAA" in info
    assert "Attribute flags: 0000000000000004" in info


def test_partition_outside_the_disk_is_refused(tmp_path: Path) -> None:
    bad = gpt.Partition(2048, SECTORS - 2, gpt.ESP_TYPE, DISK, "ESP")
    with (tmp_path / "d").open("wb") as fh, pytest.raises(BuildError, match="does not fit"):
        gpt.write(fh, SIZE, DISK, [bad])
