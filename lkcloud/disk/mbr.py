"""Master boot records: boot code, disk signature, four partition entries, 0x55AA."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lkcloud.disk.ids import SECTOR
from lkcloud.errors import BuildError

BOOT_CODE_SIZE = 440
ACTIVE = 0x80
FAT32_LBA = 0x0C
_ENTRY = struct.Struct("<B3sB3sII")
_MAX_CHS = (1023, 254, 63)


@dataclass(frozen=True)
class Entry:
    status: int  # 0x80 = active (bootable)
    type_id: int
    first_lba: int
    sectors: int


def chs(lba: int, heads: int = 255, per_track: int = 63) -> bytes:
    """The packed cylinder/head/sector of ``lba``, clamped to 1023/254/63 beyond the CHS limit."""
    cylinder, rest = divmod(lba, heads * per_track)
    head, sector = divmod(rest, per_track)
    if cylinder > _MAX_CHS[0]:
        cylinder, head, sector = _MAX_CHS[0], _MAX_CHS[1], _MAX_CHS[2] - 1
    sector += 1
    return bytes([head, ((cylinder >> 2) & 0xC0) | sector, cylinder & 0xFF])


def sector(boot_code: bytes, signature: int, entries: list[Entry]) -> bytes:
    """One 512-byte MBR sector."""
    out = bytearray(SECTOR)
    out[: len(boot_code[:BOOT_CODE_SIZE])] = boot_code[:BOOT_CODE_SIZE]
    struct.pack_into("<I", out, 440, signature)
    for index, entry in enumerate(entries[:4]):
        last = entry.first_lba + entry.sectors - 1
        _ENTRY.pack_into(
            out,
            446 + 16 * index,
            entry.status,
            chs(entry.first_lba),
            entry.type_id,
            chs(last),
            entry.first_lba,
            entry.sectors,
        )
    out[510:512] = b"\x55\xaa"
    return bytes(out)


def read_entries(data: bytes) -> list[Entry]:
    """The non-empty partition entries of an MBR sector."""
    if data[510:512] != b"\x55\xaa":
        raise BuildError("no MBR signature")
    entries = []
    for index in range(4):
        status, _, type_id, _, first, count = _ENTRY.unpack_from(data, 446 + 16 * index)
        if type_id:
            entries.append(Entry(status, type_id, first, count))
    return entries
