"""Conversions through ``qemu-img convert``, with the random parts qemu writes (VMDK CID, VHD
timestamp and UUID) replaced by values derived from content so builds are reproducible."""

from __future__ import annotations

import re
import struct
import uuid
from pathlib import Path

from lkcloud.disk import vhd
from lkcloud.disk.ids import SECTOR
from lkcloud.errors import BuildError
from lkcloud.process import run

_CID = re.compile(rb"^CID=[0-9a-f]{1,8}$", re.MULTILINE)  # qemu prints a random CID without padding
VMDK_MAGIC = b"KDMV"


def qemu_img_convert(source: Path, target: Path, fmt: str, options: str = "") -> None:
    argv: list[str | Path] = ["qemu-img", "convert", "-f", "raw", "-O", fmt]
    if options:
        argv += ["-o", options]
    run([*argv, source, target])


def to_qcow2(source: Path, target: Path) -> None:
    qemu_img_convert(source, target, "qcow2")


def to_vmdk(source: Path, target: Path, cid: int) -> None:
    """streamOptimized VMDK for vSphere (LSI Logic adapter), its random CID replaced by ``cid``."""
    qemu_img_convert(source, target, "vmdk", "subformat=streamOptimized,adapter_type=lsilogic")
    with target.open("r+b") as fh:
        header = fh.read(SECTOR)
        if header[:4] != VMDK_MAGIC:
            raise BuildError(f"qemu-img wrote no VMDK sparse header in {target.name}")
        offset, sectors = struct.unpack_from("<QQ", header, 28)
        fh.seek(offset * SECTOR)
        region = fh.read(sectors * SECTOR)
        text = region.split(b"\0", 1)[0]
        new, count = _CID.subn(f"CID={cid:08x}".encode(), text, count=1)
        if count != 1 or len(new) > len(region):
            raise BuildError(f"qemu-img wrote no VMDK descriptor CID in {target.name}")
        fh.seek(offset * SECTOR)
        fh.write(new.ljust(len(region), b"\0"))


def to_dynamic_vhd(source: Path, target: Path, stamp: int, disk_uuid: uuid.UUID) -> None:
    """Dynamic VHD (exact size kept with ``force_size``); both footer copies get a fixed
    timestamp and UUID."""
    qemu_img_convert(source, target, "vpc", "subformat=dynamic,force_size=on")
    size = target.stat().st_size
    with target.open("r+b") as fh:
        for offset in (0, size - vhd.FOOTER_SIZE):
            fh.seek(offset)
            footer = vhd.restamp(fh.read(vhd.FOOTER_SIZE), stamp, disk_uuid)
            fh.seek(offset)
            fh.write(footer)
