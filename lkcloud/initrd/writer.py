"""``build_initrd``: the root filesystem tar in, the kernel, command line and initrd files out."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lkcloud.disk.layout import BLOCK
from lkcloud.errors import BuildError
from lkcloud.fsutil import hashing_writer
from lkcloud.initrd import segments
from lkcloud.initrd.compress import check_compression
from lkcloud.initrd.segments import Segment
from lkcloud.initrd.tree import read_data, read_members, select


@dataclass(frozen=True)
class InitrdFiles:
    kernel: Path
    cmdline: str
    initrd: Path  # the compressed archives, ucode prepended when there is one
    initrd_only: Path  # the compressed archives alone
    ucode: Path | None
    kernel_digest: str = ""  # SHA-256 (hex) of kernel and initrd, taken as they were written
    initrd_digest: str = ""
    segments: tuple[Segment, ...] = ()  # the archives of ``initrd``, offsets counted from its start


def build_initrd(tar_path: Path, workdir: Path, *, compression: str = "gzip", layout: str = "segmented",
                 members: Sequence[tarfile.TarInfo] | None = None, dir_mtime: int = 0) -> InitrdFiles:
    """Split and convert the rootfs tar into ``workdir``/{kernel, initrd.img, initrd-only.img, ucode.cpio}."""
    check_compression(compression)
    segments.check_layout(layout)
    tree, split = select(members if members is not None else read_members(tar_path))
    if "kernel" not in split:
        raise BuildError("the configuration has no kernel", hint="add a kernel: section with an image")
    paths = {name: workdir / name for name in ("kernel", "initrd-only.img", "ucode.cpio", "initrd.img")}
    with tar_path.open("rb") as tar:
        kernel = read_data(tar, split["kernel"])
        paths["kernel"].write_bytes(kernel)
        cmdline = read_data(tar, split.get("cmdline")).decode()
        ucode = read_data(tar, split.get("ucode"))
        head = ucode + segments.padding(len(ucode), layout) if ucode else b""
        whole, alone = hashlib.sha256(head), hashlib.sha256()
        groups = segments.plan(tree, layout)
        align = BLOCK if layout == "segmented" else 1
        with paths["initrd-only.img"].open("wb") as out, hashing_writer(out, whole, alone) as hashed:
            placed = segments.write(tar, tree, groups, hashed, compression=compression, align=align,
                                    dir_mtime=dir_mtime, start=len(head), spool=workdir)
    ucode_path = paths["ucode.cpio"] if ucode else None
    if ucode_path is not None:
        ucode_path.write_bytes(ucode)
        placed.insert(0, Segment("ucode", 0, len(ucode)))
        with paths["initrd.img"].open("wb") as out:
            out.write(head)
            with paths["initrd-only.img"].open("rb") as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    else:
        paths["initrd.img"] = paths["initrd-only.img"]
    return InitrdFiles(kernel=paths["kernel"], cmdline=cmdline, initrd=paths["initrd.img"],
                       initrd_only=paths["initrd-only.img"], ucode=ucode_path,
                       kernel_digest=hashlib.sha256(kernel).hexdigest(), initrd_digest=whole.hexdigest(),
                       segments=tuple(placed))
