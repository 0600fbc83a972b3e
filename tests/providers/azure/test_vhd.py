"""Fixed-VHD checks: whole MiB plus a valid conectix footer, fixed type, matching size."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lkcloud.disk import vhd
from lkcloud.errors import UsageError
from lkcloud_azure.vhd import check
from tests.providers.azure.vhds import MIB, make_vhd


def test_a_good_vhd(tmp_path: Path) -> None:
    image = check(make_vhd(tmp_path / "ok.vhd", 3, ((0, 4096),)))
    assert (image.size, image.disk_size) == (3 * MIB + 512, 3 * MIB)


@pytest.mark.parametrize(
    ("footer", "message"),
    [
        (vhd.Footer(size=2 * MIB, timestamp=0, uuid=uuid.UUID(int=1), disk_type=vhd.DiskType.DYNAMIC),
         "a dynamic VHD"),
        (vhd.Footer(size=4 * MIB, timestamp=0, uuid=uuid.UUID(int=1)), "footer says 4194304 bytes but the disk holds"),
    ],
)
def test_wrong_footers(tmp_path: Path, footer: vhd.Footer, message: str) -> None:
    path = tmp_path / "x.vhd"
    path.write_bytes(bytes(2 * MIB) + vhd.footer_bytes(footer))
    with pytest.raises(UsageError, match=message):
        check(path)


def test_corrupt_footer_checksum(tmp_path: Path) -> None:
    path = make_vhd(tmp_path / "x.vhd", 2, ())
    data = bytearray(path.read_bytes())
    data[-300] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"no valid fixed VHD footer \(conectix\).*checksum"):
        check(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        check(tmp_path / "absent.vhd")
