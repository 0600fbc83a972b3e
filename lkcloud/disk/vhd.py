"""VHD footers (Virtual Hard Disk Image Format Specification 1.0) written in Python.

A fixed VHD is the raw disk followed by a 512-byte footer. Azure wants a whole number of MiB
of payload and reads the size from the footer; qemu trusts that size only for known creators
such as ``win `` (for others it recomputes it from CHS and comes up short).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum

from lkcloud.disk.ids import SECTOR, VHD_EPOCH
from lkcloud.errors import BuildError

COOKIE = b"conectix"
FEATURES = 2  # "reserved", always set
VERSION = 0x00010000
FIXED_DATA_OFFSET = 0xFFFFFFFFFFFFFFFF
CREATOR_APP = b"win "
CREATOR_VERSION = 0x000A0000
CREATOR_HOST = b"Wi2k"
FOOTER_SIZE = 512
CHECKSUM_OFFSET = 64
_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB")
MAX_CHS_SECTORS = 65535 * 16 * 255


class DiskType(IntEnum):
    FIXED = 2
    DYNAMIC = 3


@dataclass(frozen=True)
class Footer:
    size: int
    timestamp: int  # seconds since 2000-01-01 UTC
    uuid: uuid.UUID
    disk_type: DiskType = DiskType.FIXED
    data_offset: int = FIXED_DATA_OFFSET
    creator_app: bytes = CREATOR_APP
    checksum: int = 0
    cylinders: int = 0
    heads: int = 0
    sectors: int = 0


def geometry(size: int) -> tuple[int, int, int]:
    """Cylinders, heads, sectors per track for ``size`` bytes, as the VHD specification computes them."""
    total = min(size // SECTOR, MAX_CHS_SECTORS)
    if total >= 65535 * 16 * 63:
        per_track, heads = 255, 16
        cyl_heads = total // per_track
    else:
        per_track = 17
        cyl_heads = total // per_track
        heads = max((cyl_heads + 1023) // 1024, 4)
        if cyl_heads >= heads * 1024 or heads > 16:
            per_track, heads = 31, 16
            cyl_heads = total // per_track
        if cyl_heads >= heads * 1024:
            per_track, heads = 63, 16
            cyl_heads = total // per_track
    return cyl_heads // heads, heads, per_track


def checksum(footer: bytes) -> int:
    """One's complement of the byte sum, the checksum field counted as zero."""
    data = footer[:CHECKSUM_OFFSET] + b"\0\0\0\0" + footer[CHECKSUM_OFFSET + 4 : FOOTER_SIZE]
    return ~sum(data) & 0xFFFFFFFF


def timestamp(epoch: int) -> int:
    """A Unix time as a VHD timestamp (clamped at the VHD epoch)."""
    return max(epoch - VHD_EPOCH, 0)


def footer_bytes(footer: Footer) -> bytes:
    """The 512-byte footer, geometry and checksum filled in."""
    cylinders, heads, per_track = geometry(footer.size)

    def pack(check: int) -> bytes:
        return _FOOTER.pack(
            COOKIE,
            FEATURES,
            VERSION,
            footer.data_offset,
            footer.timestamp,
            footer.creator_app,
            CREATOR_VERSION,
            CREATOR_HOST,
            footer.size,
            footer.size,
            cylinders,
            heads,
            per_track,
            footer.disk_type,
            check,
            footer.uuid.bytes,
            0,
        ).ljust(FOOTER_SIZE, b"\0")

    return pack(checksum(pack(0)))


def parse(data: bytes) -> Footer:
    """Read a footer back, checking its cookie and checksum."""
    fields = _FOOTER.unpack_from(data)
    if fields[0] != COOKIE:
        raise BuildError("not a VHD footer")
    if checksum(data) != fields[14]:
        raise BuildError("VHD footer checksum mismatch")
    return Footer(
        size=fields[9],
        timestamp=fields[4],
        uuid=uuid.UUID(bytes=fields[15]),
        disk_type=DiskType(fields[13]),
        data_offset=fields[3],
        creator_app=fields[5],
        checksum=fields[14],
        cylinders=fields[10],
        heads=fields[11],
        sectors=fields[12],
    )


def restamp(data: bytes, stamp: int, disk_uuid: uuid.UUID) -> bytes:
    """A footer (e.g. one qemu-img wrote) with a fixed timestamp and UUID and a new checksum."""
    parse(data)
    out = bytearray(data[:FOOTER_SIZE])
    struct.pack_into(">I", out, 24, stamp)
    out[68:84] = disk_uuid.bytes
    struct.pack_into(">I", out, CHECKSUM_OFFSET, checksum(bytes(out)))
    return bytes(out)
