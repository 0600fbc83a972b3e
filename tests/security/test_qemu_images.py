"""Disk images that point QEMU at host files (issue 17, item 5).

A qcow2 whose backing file is a host file, a qcow2 with an external data file, or a VMDK whose
extent is a host file hands that file to the guest (an extent read-write). ``run qemu`` (and
``--disk``) refuse images that refer to any file but themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.process import run
from lkcloud_qemu.bootsource import SourceKind, resolve
from lkcloud_qemu.machine import Disk
from lkcloud_qemu.vm import ensure_disk

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")

VMDK_WITH_EXTENT = """# Disk DescriptorFile
version=1
CID=14929b45
parentCID=ffffffff
createType="monolithicFlat"

# Extent description
RW 8 FLAT "{extent}" 0

# The Disk Data Base
#DDB
ddb.virtualHWVersion = "4"
ddb.adapterType = "ide"
"""


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "host" / "shadow"
    path.parent.mkdir()
    path.write_bytes(b"root:$6$secret\n".ljust(4096, b"\0"))
    return path


def _qcow2_over(tmp_path: Path, secret: Path, name: str = "evil.qcow2") -> Path:
    image = tmp_path / name
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", secret, "-F", "raw", image])
    return image


def test_a_qcow2_backed_by_a_host_file_is_refused(tmp_path: Path, secret: Path) -> None:
    image = _qcow2_over(tmp_path, secret)
    with pytest.raises(UsageError, match=f"refers to other files \\(backing file {secret}\\): refused") as info:
        resolve(str(image))
    assert info.value.hint and "qemu-img convert" in info.value.hint


def test_a_backing_file_is_found_whatever_the_file_is_called(tmp_path: Path, secret: Path) -> None:
    image = _qcow2_over(tmp_path, secret, name="innocent.disk")  # no known suffix: the format is probed
    with pytest.raises(UsageError, match="backing file"):
        resolve(str(image))


def test_a_qcow2_with_an_external_data_file_is_refused(tmp_path: Path, secret: Path) -> None:
    image = tmp_path / "data.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={secret},data_file_raw=on", image, "4K"])
    with pytest.raises(UsageError, match=f"data file {secret}"):
        resolve(str(image))


def test_a_vmdk_extent_outside_the_image_is_refused_as_a_disk_too(tmp_path: Path, secret: Path) -> None:
    image = tmp_path / "evil.vmdk"
    image.write_text(VMDK_WITH_EXTENT.format(extent=secret))
    with pytest.raises(UsageError, match=f"extent {secret}"):
        resolve(str(image))
    with pytest.raises(UsageError, match=f"extent {secret}"):
        ensure_disk(Disk(image))  # --disk evil.vmdk: attached read-write


@pytest.mark.parametrize(("name", "fmt"), [("plain.qcow2", "qcow2"), ("plain.vmdk", "vmdk"), ("plain.vhd", "vpc")])
def test_self_contained_images_still_run(tmp_path: Path, name: str, fmt: str) -> None:
    image = tmp_path / name
    run(["qemu-img", "create", "-q", "-f", fmt, image, "1M"])
    assert resolve(str(image)).kind is SourceKind.DISK
    assert ensure_disk(Disk(image)).format == fmt
