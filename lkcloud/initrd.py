"""The initrd: the root filesystem tar as a compressed newc cpio, kernel/cmdline/ucode split out.

As LinuxKit's ``initrd`` package does, ``boot/kernel``, ``boot/cmdline`` and ``boot/ucode.cpio``
are taken out, the rest of ``boot/`` dropped, and hard links become relative symlinks. Unlike a
stream copy, entries are deduplicated (the last one for a path wins, as unpacking does), missing
parent directories are added, and entries are sorted by name, so equal trees give equal bytes.
gzip is compressed on all cores pigz-style (one gzip member; blocks primed with the previous
32 KiB); xz uses CRC32, the only check the kernel's decoder knows.
"""

from __future__ import annotations

import hashlib
import lzma
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from lkcloud.errors import BuildError, UsageError
from lkcloud.fsutil import hashing_writer
from lkcloud.pgzip import ParallelGzip

CPIO_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
COMPRESSIONS = ("gzip", "zstd", "xz", "none")

_TYPE_BITS = {
    tarfile.REGTYPE: stat.S_IFREG, tarfile.AREGTYPE: stat.S_IFREG, tarfile.CONTTYPE: stat.S_IFREG,
    tarfile.DIRTYPE: stat.S_IFDIR, tarfile.SYMTYPE: stat.S_IFLNK, tarfile.LNKTYPE: stat.S_IFLNK,
    tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK, tarfile.FIFOTYPE: stat.S_IFIFO,
}
SPLIT = {"boot/kernel": "kernel", "boot/cmdline": "cmdline", "boot/ucode.cpio": "ucode"}


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class InitrdFiles:
    kernel: Path
    cmdline: str
    initrd: Path  # the compressed cpio, ucode prepended when there is one
    initrd_only: Path  # the compressed cpio alone
    ucode: Path | None
    kernel_digest: str = ""  # SHA-256 (hex) of kernel and initrd, taken as they were written
    initrd_digest: str = ""


# --- compression -------------------------------------------------------------------------------

class _Stream:
    """A compressor object with compress()/flush() as a Sink."""

    def __init__(self, out: BinaryIO, compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> None:
        self._out, self._compress, self._flush = out, compress, flush

    def write(self, data: bytes) -> None:
        self._out.write(self._compress(data))

    def close(self) -> None:
        self._out.write(self._flush())


def _gzip(out: BinaryIO) -> Sink:
    return ParallelGzip(out)


def _xz(out: BinaryIO) -> Sink:
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=6)
    return _Stream(out, comp.compress, comp.flush)


def _zstd(out: BinaryIO) -> Sink:
    import zstandard

    comp = zstandard.ZstdCompressor(level=3, threads=2).compressobj()
    return _Stream(out, comp.compress, comp.flush)


def _none(out: BinaryIO) -> Sink:
    return _Stream(out, lambda data: data, lambda: b"")


COMPRESSORS: dict[str, Callable[[BinaryIO], Sink]] = {
    "gzip": _gzip, "zstd": _zstd, "xz": _xz, "none": _none,
}


def check_compression(name: str) -> None:
    if name not in COMPRESSORS:
        raise UsageError(f"unknown initrd compression {name!r}", hint="choose one of: " + ", ".join(COMPRESSIONS))


def compressor(name: str, out: BinaryIO) -> Sink:
    check_compression(name)
    return COMPRESSORS[name](out)


# --- cpio ----------------------------------------------------------------------------------------

def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


class CpioWriter:
    """A newc (``070701``) cpio archive; inode numbers count up from 1."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._ino = 0

    def add(self, name: str, mode: int, *, uid: int = 0, gid: int = 0, mtime: int = 0, data: bytes = b"",
            rdevmajor: int = 0, rdevminor: int = 0) -> None:
        self._ino += 1
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (self._ino, mode, uid, gid, nlink, max(mtime, 0), len(data), 0, 0, rdevmajor, rdevminor,
                  len(encoded), 0)
        header = CPIO_MAGIC + b"".join(b"%08x" % (value & 0xFFFFFFFF) for value in fields)
        self._sink.write(header + encoded + _pad(len(header) + len(encoded)) + data + _pad(len(data)))

    def finish(self) -> None:
        self._ino = -1
        self.add(TRAILER, 0)


# --- tar -> initrd -------------------------------------------------------------------------------

def read_members(tar_path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(tar_path, mode="r:") as tar:
        return tar.getmembers()


def _name(member: tarfile.TarInfo) -> str:
    return posixpath.normpath("/" + member.name).lstrip("/")


def select(members: Sequence[tarfile.TarInfo]) -> tuple[dict[str, tarfile.TarInfo], dict[str, tarfile.TarInfo]]:
    """(cpio entries by name, last one wins; the split-out boot files)."""
    tree: dict[str, tarfile.TarInfo] = {}
    split: dict[str, tarfile.TarInfo] = {}
    for member in members:
        name = _name(member)
        if name in SPLIT:
            split[SPLIT[name]] = member
        elif name and name != "." and not name.startswith("boot/"):
            tree[name] = member
    return tree, split


def _missing_parents(names: Sequence[str]) -> set[str]:
    known = set(names)
    missing: set[str] = set()
    for name in names:
        parent = posixpath.dirname(name)
        while parent and parent not in known and parent not in missing:
            missing.add(parent)
            parent = posixpath.dirname(parent)
    return missing


def write_cpio(tar: BinaryIO, tree: dict[str, tarfile.TarInfo], sink: Sink, dir_mtime: int) -> None:
    """The cpio of ``tree`` in name order, reading file data from the open tar."""
    cpio = CpioWriter(sink)
    for name in sorted([*tree, *_missing_parents(list(tree))]):
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
            tar.seek(member.offset_data)
            data = tar.read(member.size)
        cpio.add(name, kind | (member.mode & 0o7777), uid=member.uid, gid=member.gid, mtime=int(member.mtime),
                 data=data, rdevmajor=member.devmajor, rdevminor=member.devminor)
    cpio.finish()


def _read(tar: BinaryIO, member: tarfile.TarInfo | None) -> bytes:
    if member is None:
        return b""
    tar.seek(member.offset_data)
    return tar.read(member.size)


def build_initrd(tar_path: Path, workdir: Path, *, compression: str = "gzip",
                 members: Sequence[tarfile.TarInfo] | None = None, dir_mtime: int = 0) -> InitrdFiles:
    """Split and convert the rootfs tar into ``workdir``/{kernel, initrd.img, initrd-only.img, ucode.cpio}."""
    tree, split = select(members if members is not None else read_members(tar_path))
    if "kernel" not in split:
        raise BuildError("the configuration has no kernel", hint="add a kernel: section with an image")
    paths = {name: workdir / name for name in ("kernel", "initrd-only.img", "ucode.cpio", "initrd.img")}
    with tar_path.open("rb") as tar:
        kernel = _read(tar, split["kernel"])
        paths["kernel"].write_bytes(kernel)
        cmdline = _read(tar, split.get("cmdline")).decode()
        ucode = _read(tar, split.get("ucode"))
        whole, alone = hashlib.sha256(ucode), hashlib.sha256()
        with paths["initrd-only.img"].open("wb") as out, hashing_writer(out, whole, alone) as hashed:
            sink = compressor(compression, hashed)
            write_cpio(tar, tree, sink, dir_mtime)
            sink.close()
    ucode_path = paths["ucode.cpio"] if ucode else None
    if ucode_path is not None:
        ucode_path.write_bytes(ucode)
        with paths["initrd.img"].open("wb") as out:
            out.write(ucode)
            with paths["initrd-only.img"].open("rb") as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    else:
        paths["initrd.img"] = paths["initrd-only.img"]
    return InitrdFiles(kernel=paths["kernel"], cmdline=cmdline, initrd=paths["initrd.img"],
                       initrd_only=paths["initrd-only.img"], ucode=ucode_path,
                       kernel_digest=hashlib.sha256(kernel).hexdigest(), initrd_digest=whole.hexdigest())


def read_cpio(data: bytes) -> Iterator[tuple[str, int, int, int, int, bytes]]:
    """(name, mode, uid, gid, mtime, data) of every entry of concatenated newc archives (for checks)."""
    pos = 0
    while pos + 110 <= len(data):
        if data[pos : pos + 6] != CPIO_MAGIC:
            pos += 1 if data[pos] == 0 else len(data)
            continue
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = data[pos + 110 : pos + 110 + namesize - 1].decode()
        start = pos + 110 + namesize
        start += -start % 4
        body = data[start : start + filesize]
        pos = start + filesize
        pos += -pos % 4
        if name != TRAILER:
            yield name, fields[1], fields[2], fields[3], fields[5], body
