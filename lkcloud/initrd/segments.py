"""How the initrd's archives are laid out: ``segmented`` (the default) or ``stream``.

``segmented``: one independently compressed newc archive per component of the image, in a stable
order: kernel modules, each init image, each volume, each onboot, onshutdown and service image,
then the ``files:`` section (with the ``metadata`` config, which changes most often) last. Each
archive starts on a :data:`~lkcloud.disk.layout.BLOCK` boundary of the file, zero-padded up to
it, and the disk writers put the file on such a boundary of the disk: a change in one component
rewrites that component's blocks and leaves the others' in place. The kernel unpacks
concatenated archives and skips zeros between them (``init/initramfs.c``, ``unpack_to_rootfs``);
each archive ends with its own trailer, as it must.

Every path is written once, in the component whose entry wins it (the last, as in the stream);
an archive also carries the parent directories its paths need, as the winning entries (or the
implied 0755 directory), so the unpacked tree is the same whatever the layout.

``stream``: one archive of the whole tree, one compressed stream, no padding.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from lkcloud.assemble.stream import PAX_LOCATION
from lkcloud.disk.layout import BLOCK
from lkcloud.errors import UsageError
from lkcloud.initrd import archive_cache
from lkcloud.initrd.compress import compressor
from lkcloud.initrd.cpio import CpioWriter
from lkcloud.initrd.tree import Tree, parents, write_entries

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

LAYOUTS = ("segmented", "stream")
_LOCATION = re.compile(r"^(kernel|init|volume|onboot|onshutdown|services|files)(?:\[(\d+)\])?$")
# Components in unpacking order; the stream's own order, files last.
_RANK = {"kernel": 0, "init": 1, "volume": 2, "onboot": 3, "onshutdown": 4, "services": 5, "files": 6}
_NO_INDEX = 1 << 30  # "init" alone (the merged apk database) follows every init[N]


@dataclass(frozen=True)
class Segment:
    """One archive of the initrd: which component, where it starts in the file, its bytes."""

    name: str  # "kernel", "init[0]", "onboot[2]", "files", ... ("rootfs" for the stream)
    offset: int
    size: int  # compressed bytes, padding not counted


def check_layout(name: str) -> None:
    if name not in LAYOUTS:
        raise UsageError(f"unknown initrd layout {name!r}", hint="choose one of: " + ", ".join(LAYOUTS))


def component(member: tarfile.TarInfo) -> tuple[int, int, str]:
    """(rank, index, name) of the component an entry comes from, by its LinuxKit location record;
    entries without one (not from a LinuxKit build) go first, as ``rootfs``."""
    found = _LOCATION.match(member.pax_headers.get(PAX_LOCATION, ""))
    if found is None:
        return -1, 0, "rootfs"
    kind, index = found.group(1), found.group(2)
    if kind == "files":
        return _RANK[kind], 0, kind
    if index is None:
        return _RANK[kind], _NO_INDEX, kind
    return _RANK[kind], int(index), f"{kind}[{index}]"


def plan(tree: Tree, layout: str) -> list[tuple[str, set[str]]]:
    """(segment name, the paths it holds) for each archive, in order; parents included."""
    check_layout(layout)
    if layout == "stream" or not tree:
        return [("rootfs", set(tree) | parents(tree))]
    groups: dict[tuple[int, int, str], set[str]] = {}
    for name, member in tree.items():
        groups.setdefault(component(member), set()).add(name)
    return [(key[2], names | parents(names)) for key, names in sorted(groups.items())]


class _Counter(io.RawIOBase):
    """Counts the bytes passed on to ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self._out, self.count = out, 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data)
        self._out.write(view)
        self.count += len(view)
        return len(view)


class _Hashing:
    """A sink that writes to ``out`` and hashes what passes."""

    def __init__(self, out: BinaryIO) -> None:
        self._out, self.digest = out, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self.digest.update(data)

    def close(self) -> None:
        """The spool stays open: the archive is compressed from it."""


def _archive(tar: BinaryIO, names: set[str], tree: Tree, out: BinaryIO, *, compression: str, dir_mtime: int,
             spool: Path | None) -> None:
    """One compressed archive of ``names`` to ``out``: from the archive cache when it holds one
    with the same content, else compressed (and kept there)."""
    with tempfile.TemporaryFile(dir=spool) as raw, tempfile.TemporaryFile(dir=spool) as compressed:
        hashing = _Hashing(cast(BinaryIO, raw))
        cpio = CpioWriter(hashing)
        write_entries(tar, names, tree, cpio, dir_mtime)
        cpio.finish()
        name = archive_cache.key(hashing.digest.hexdigest(), compression)
        if archive_cache.copy_out(name, out):
            return
        sink = compressor(compression, cast(BinaryIO, compressed))  # compressors only call write()
        raw.seek(0)
        while chunk := raw.read(1 << 20):
            sink.write(chunk)
        sink.close()
        compressed.seek(0)
        while chunk := compressed.read(1 << 20):
            out.write(chunk)
        archive_cache.store(name, cast(BinaryIO, compressed))


def write(tar: BinaryIO, tree: Tree, groups: list[tuple[str, set[str]]], out: BinaryIO, *, compression: str,
          align: int, dir_mtime: int, start: int = 0, spool: Path | None = None) -> list[Segment]:
    """Write each group as one compressed archive to ``out``, each starting on an ``align``-byte
    boundary counted from ``start`` bytes before ``out``'s position; the last one padded too.
    Archives whose content an earlier build compressed come from the archive cache."""
    counter = _Counter(out)
    written: list[Segment] = []
    for name, names in groups:
        begin = counter.count
        _archive(tar, names, tree, cast(BinaryIO, counter), compression=compression, dir_mtime=dir_mtime,
                 spool=spool)
        written.append(Segment(name, start + begin, counter.count - begin))
        counter.write(bytes(-(start + counter.count) % align))
    return written


def padding(size: int, layout: str) -> bytes:
    """The zeros after something of ``size`` bytes that comes before the archives (the ucode)."""
    return bytes(-size % BLOCK) if layout == "segmented" else b""
