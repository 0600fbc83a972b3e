"""GUID partition tables written and read back in Python (UEFI spec 2.10, chapter 5)."""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from lkcloud.disk import mbr
from lkcloud.disk.ids import SECTOR
from lkcloud.errors import BuildError

ESP_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
LEGACY_BIOS_BOOTABLE = 1 << 2  # attribute bit 2: gptmbr.bin boots the partition that has it

SIGNATURE = b"EFI PART"
REVISION = 0x00010000
HEADER_SIZE = 92
ENTRIES = 128
ENTRY_SIZE = 128
ENTRY_SECTORS = ENTRIES * ENTRY_SIZE // SECTOR  # 32
_HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")
_ENTRY = struct.Struct("<16s16sQQQ72s")


@dataclass(frozen=True)
class Partition:
    first_lba: int
    last_lba: int  # inclusive
    type_guid: uuid.UUID
    guid: uuid.UUID
    name: str = ""
    attributes: int = 0


@dataclass(frozen=True)
class Header:
    my_lba: int
    alternate_lba: int
    first_usable: int
    last_usable: int
    disk_guid: uuid.UUID
    entries_lba: int
    entries_crc: int
    header_crc: int


def entries_bytes(partitions: list[Partition]) -> bytes:
    table = bytearray(ENTRIES * ENTRY_SIZE)
    for index, part in enumerate(partitions):
        name = part.name.encode("utf-16-le")[:72]
        _ENTRY.pack_into(
            table,
            index * ENTRY_SIZE,
            part.type_guid.bytes_le,
            part.guid.bytes_le,
            part.first_lba,
            part.last_lba,
            part.attributes,
            name,
        )
    return bytes(table)


def _header(*, my_lba: int, alternate: int, entries_lba: int, sectors: int, disk_guid: uuid.UUID, crc: int) -> bytes:
    def pack(header_crc: int) -> bytes:
        return _HEADER.pack(
            SIGNATURE,
            REVISION,
            HEADER_SIZE,
            header_crc,
            0,
            my_lba,
            alternate,
            1 + 1 + ENTRY_SECTORS,
            sectors - 2 - ENTRY_SECTORS,
            disk_guid.bytes_le,
            entries_lba,
            ENTRIES,
            ENTRY_SIZE,
            crc,
        )

    return pack(zlib.crc32(pack(0))).ljust(SECTOR, b"\0")


def write(fh: BinaryIO, disk_size: int, disk_guid: uuid.UUID, partitions: list[Partition]) -> None:
    """Write a protective MBR, the primary and the backup GPT into a disk of ``disk_size`` bytes."""
    sectors = disk_size // SECTOR
    usable = range(2 + ENTRY_SECTORS, sectors - 1 - ENTRY_SECTORS)
    for part in partitions:
        if part.first_lba not in usable or part.last_lba not in usable or part.last_lba < part.first_lba:
            raise BuildError(f"partition {part.name!r} does not fit a disk of {disk_size} bytes")
    table = entries_bytes(partitions)
    crc = zlib.crc32(table)
    backup_entries = sectors - 1 - ENTRY_SECTORS
    protective = mbr.Entry(status=0, type_id=0xEE, first_lba=1, sectors=min(sectors - 1, 0xFFFFFFFF))
    fh.seek(0)
    fh.write(mbr.sector(b"", 0, [protective]))
    fh.write(_header(my_lba=1, alternate=sectors - 1, entries_lba=2, sectors=sectors, disk_guid=disk_guid, crc=crc))
    fh.write(table)
    fh.seek(backup_entries * SECTOR)
    fh.write(table)
    backup = _header(
        my_lba=sectors - 1, alternate=1, entries_lba=backup_entries, sectors=sectors, disk_guid=disk_guid, crc=crc
    )
    fh.write(backup)


def read_header(sector: bytes) -> Header:
    """Parse a GPT header sector, checking its signature and CRC."""
    fields = _HEADER.unpack_from(sector)
    if fields[0] != SIGNATURE or fields[2] != HEADER_SIZE:
        raise BuildError("not a GPT header")
    zeroed = bytearray(sector[:HEADER_SIZE])
    zeroed[16:20] = b"\0\0\0\0"
    if zlib.crc32(zeroed) != fields[3]:
        raise BuildError("GPT header CRC mismatch")
    return Header(
        my_lba=fields[5],
        alternate_lba=fields[6],
        first_usable=fields[7],
        last_usable=fields[8],
        disk_guid=uuid.UUID(bytes_le=fields[9]),
        entries_lba=fields[10],
        entries_crc=fields[13],
        header_crc=fields[3],
    )


def read_entries(table: bytes, header: Header) -> list[Partition]:
    """Parse a partition-entry array, checking it against the header's CRC."""
    if zlib.crc32(table[: ENTRIES * ENTRY_SIZE]) != header.entries_crc:
        raise BuildError("GPT partition entries CRC mismatch")
    parts = []
    for index in range(ENTRIES):
        type_le, guid_le, first, last, attrs, name = _ENTRY.unpack_from(table, index * ENTRY_SIZE)
        if type_le == bytes(16):
            continue
        parts.append(
            Partition(
                first_lba=first,
                last_lba=last,
                type_guid=uuid.UUID(bytes_le=type_le),
                guid=uuid.UUID(bytes_le=guid_le),
                name=name.decode("utf-16-le").rstrip("\0"),
                attributes=attrs,
            )
        )
    return parts
