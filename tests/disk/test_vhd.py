"""VHD footers: golden fields, geometry, checksum, and what qemu-img reads from ours."""

from __future__ import annotations

import json
import struct
import uuid
from pathlib import Path

import pytest

from lkcloud.disk import vhd
from lkcloud.errors import BuildError
from lkcloud.process import run

GIB = 1 << 30
UUID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


def test_golden_footer_fields() -> None:
    data = vhd.footer_bytes(vhd.Footer(GIB, vhd.timestamp(1492532400), UUID))
    assert len(data) == 512
    assert data[0:8] == b"conectix"
    assert struct.unpack_from(">IIQI", data, 8) == (2, 0x00010000, 0xFFFFFFFFFFFFFFFF, 1492532400 - 946684800)
    assert data[28:32] == b"win "
    assert data[36:40] == b"Wi2k"
    assert struct.unpack_from(">QQ", data, 40) == (GIB, GIB)
    assert struct.unpack_from(">HBBI", data, 56) == (2080, 16, 63, 2)
    assert struct.unpack_from(">I", data, 64)[0] == ~(sum(data) - sum(data[64:68])) & 0xFFFFFFFF
    assert data[68:84] == UUID.bytes
    assert data[84:] == bytes(428)


@pytest.mark.parametrize(
    ("size", "chs"),
    [(GIB, (2080, 16, 63)), (40 << 20, (963, 5, 17)), (100 * GIB, (51400, 16, 255)), (3000 * GIB, (65535, 16, 255))],
)
def test_geometry(size: int, chs: tuple[int, int, int]) -> None:
    assert vhd.geometry(size) == chs


def test_parse_and_restamp() -> None:
    data = vhd.footer_bytes(vhd.Footer(GIB, 5, UUID))
    footer = vhd.parse(data)
    assert (footer.size, footer.timestamp, footer.uuid, footer.disk_type) == (GIB, 5, UUID, vhd.DiskType.FIXED)
    other = uuid.UUID(int=7)
    again = vhd.parse(vhd.restamp(data, 99, other))
    assert (again.timestamp, again.uuid, again.size) == (99, other, GIB)
    broken = bytearray(data)
    broken[45] ^= 1
    with pytest.raises(BuildError, match="checksum"):
        vhd.parse(bytes(broken))


def test_qemu_img_reads_the_exact_size(tmp_path: Path) -> None:
    """qemu trusts the footer's size for creator 'win '; the payload is not CHS-rounded."""
    path = tmp_path / "disk.vhd"
    size = 100 << 20
    with path.open("wb") as fh:
        fh.truncate(size)
        fh.seek(size)
        fh.write(vhd.footer_bytes(vhd.Footer(size, 0, UUID)))
    info = json.loads(run(["qemu-img", "info", "-f", "vpc", "--output=json", path]).text)
    assert info["virtual-size"] == size
