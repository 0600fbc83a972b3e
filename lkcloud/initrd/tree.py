"""The root filesystem tar as the initrd sees it: which entries go in, and as what.

As LinuxKit's ``initrd`` package does, ``boot/kernel``, ``boot/cmdline`` and ``boot/ucode.cpio``
are taken out, the rest of ``boot/`` dropped, and hard links become relative symlinks. Unlike a
stream copy, entries are deduplicated (the last one for a path wins, as unpacking does) and
missing parent directories are added, so equal trees give equal bytes.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from lkcloud.errors import BuildError
from lkcloud.fsutil import ancestors
from lkcloud.initrd.cpio import CpioWriter

SPLIT = {"boot/kernel": "kernel", "boot/cmdline": "cmdline", "boot/ucode.cpio": "ucode"}
_TYPE_BITS = {
    tarfile.REGTYPE: stat.S_IFREG, tarfile.AREGTYPE: stat.S_IFREG, tarfile.CONTTYPE: stat.S_IFREG,
    tarfile.DIRTYPE: stat.S_IFDIR, tarfile.SYMTYPE: stat.S_IFLNK, tarfile.LNKTYPE: stat.S_IFLNK,
    tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK, tarfile.FIFOTYPE: stat.S_IFIFO,
}

Tree = dict[str, tarfile.TarInfo]  # initrd path -> the tar member that wins it


def read_members(tar_path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(tar_path, mode="r:") as tar:
        return tar.getmembers()


def path_of(member: tarfile.TarInfo) -> str:
    return posixpath.normpath("/" + member.name).lstrip("/")


def select(members: Sequence[tarfile.TarInfo]) -> tuple[Tree, Tree]:
    """(cpio entries by path, the last one winning; the split-out boot files by role)."""
    tree: Tree = {}
    split: Tree = {}
    for member in members:
        name = path_of(member)
        if name in SPLIT:
            split[SPLIT[name]] = member
        elif name and name != "." and not name.startswith("boot/"):
            tree[name] = member
    return tree, split


parents = ancestors  # every ancestor directory of the names (not the root)


def read_data(tar: BinaryIO, member: tarfile.TarInfo | None) -> bytes:
    if member is None:
        return b""
    tar.seek(member.offset_data)
    return tar.read(member.size)


def write_entries(tar: BinaryIO, names: Iterable[str], tree: Mapping[str, tarfile.TarInfo], cpio: CpioWriter,
                  dir_mtime: int) -> None:
    """Add ``names`` to ``cpio`` in name order, reading file data from the open tar; a name not in
    ``tree`` is a directory the tree implies (mode 0755, ``dir_mtime``)."""
    for name in sorted(names):
        member = tree.get(name)
        if member is None:
            cpio.add(name, stat.S_IFDIR | 0o755, mtime=dir_mtime)
            continue
        kind = _TYPE_BITS.get(member.type)
        if kind is None:
            raise BuildError(f"cannot put {name!r} into the initrd: unsupported tar entry type {member.type!r}")
        data = b""
        if member.type == tarfile.LNKTYPE:
            target = posixpath.normpath("/" + member.linkname).lstrip("/")
            data = posixpath.relpath(target, posixpath.dirname(name) or ".").encode()
        elif member.type == tarfile.SYMTYPE:
            data = member.linkname.encode()
        elif kind == stat.S_IFREG and member.size:
            data = read_data(tar, member)
        cpio.add(name, kind | (member.mode & 0o7777), uid=member.uid, gid=member.gid, mtime=int(member.mtime),
                 data=data, rdevmajor=member.devmajor, rdevminor=member.devminor)
