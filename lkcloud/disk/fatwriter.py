"""A FAT32 file system laid out in-process: boot sector, FSInfo, two FATs and directories, with
every file in one contiguous cluster chain, streamed straight into the image at its offset.

:func:`plan` places directories first (the root at cluster 2) then files in the order given,
each starting on a 4 KiB boundary (or a larger one it asks for) and taking the room it asks for;
:func:`write_metadata` writes everything but the file data; :func:`write_files` streams the
data. Timestamps are ``epoch`` read as UTC, names are 8.3 (with the case bits for all-lowercase
parts) or long names with a ``~N`` short alias, so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
import os
import shutil
import struct
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lkcloud.disk.ids import SECTOR, align_up
from lkcloud.errors import BuildError

MIN_CLUSTERS = 65525  # fewer and firmware reads the volume as FAT16
RESERVED = 32
BACKUP_BOOT = 6
EOC = 0x0FFFFFFF
ENTRY = 32
ATTR_DIR, ATTR_LABEL, ATTR_LFN = 0x10, 0x08, 0x0F
LOWER_BASE, LOWER_EXT = 0x08, 0x10
SHORT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()-@^_`{}~")
PAGE = 4096
COPY_BUFFER = 1 << 20
# int 0x18 (no bootable disk: let the firmware try the next device), then halt.
NOT_BOOTABLE = bytes.fromhex("cd18f4ebfd")

Writer = Callable[[BinaryIO], None]  # writes a file's bytes at the handle's position


@dataclass(frozen=True)
class File:
    size: int
    write: Writer


def copy_file(source: Path, out: BinaryIO) -> None:
    """Append ``source`` (as big as it was when opened) at ``out``'s position, through one reused
    buffer with ``pwrite``: on ext4 that beats ``copy_file_range``, which falls back to splicing."""
    try:
        out_fd = out.fileno()
    except (io.UnsupportedOperation, AttributeError):
        with source.open("rb") as src:
            shutil.copyfileobj(src, out, COPY_BUFFER)
        return
    out.flush()
    position = out.tell()
    buffer = memoryview(bytearray(COPY_BUFFER))
    with source.open("rb", buffering=0) as src:
        left = os.fstat(src.fileno()).st_size
        while left:
            count = src.readinto(buffer[: min(left, COPY_BUFFER)])
            if not count:
                raise BuildError(f"{source} shrank while it was copied")
            done = 0
            while done < count:
                done += os.pwrite(out_fd, buffer[done:count], position + done)
            position += count
            left -= count
    out.seek(position)


def from_path(source: Path) -> File:
    return File(source.stat().st_size, lambda out: copy_file(source, out))


def from_bytes(data: bytes) -> File:
    def write(out: BinaryIO) -> None:
        out.write(data)

    return File(len(data), write)


@dataclass(frozen=True)
class Geometry:
    sectors: int  # the whole volume
    cluster_sectors: int
    reserved: int
    fat_sectors: int
    hidden: int  # sectors before the volume on its disk

    @property
    def data_start(self) -> int:
        return self.reserved + 2 * self.fat_sectors

    @property
    def clusters(self) -> int:
        return (self.sectors - self.data_start) // self.cluster_sectors

    @property
    def cluster_bytes(self) -> int:
        return self.cluster_sectors * SECTOR

    def offset(self, cluster: int) -> int:
        """Byte offset of a cluster from the start of the volume."""
        return (self.data_start + (cluster - 2) * self.cluster_sectors) * SECTOR


def geometry(size: int, cluster_sectors: int, hidden: int, align: int = PAGE) -> Geometry:
    """FAT32 geometry for ``size`` bytes: FATs sized for the clusters, the data area starting on an
    ``align``-byte boundary of the disk (reserved sectors take up the difference)."""
    sectors = size // SECTOR
    fat_sectors = 1
    while True:  # the FAT shrinks the data area it describes; a couple of rounds settle it
        clusters = (sectors - RESERVED - 7 - 2 * fat_sectors) // cluster_sectors
        needed = align_up((clusters + 2) * 4, SECTOR) // SECTOR
        if needed <= fat_sectors:
            break
        fat_sectors = needed
    reserved = RESERVED + (-(hidden + RESERVED + 2 * fat_sectors)) % (align // SECTOR)
    found = Geometry(sectors, cluster_sectors, reserved, fat_sectors, hidden)
    if found.clusters < MIN_CLUSTERS:
        raise BuildError(f"a {size}-byte volume has too few clusters for FAT32 ({found.clusters})")
    return found


@dataclass(frozen=True)
class Node:
    path: str  # "" is the root
    first: int  # first cluster (0 for an empty file)
    count: int  # clusters
    size: int  # bytes (0 for directories)
    is_dir: bool
    attributes: int = 0  # of a file: read-only 0x01, hidden 0x02, system 0x04, archive 0x20


@dataclass(frozen=True)
class Placed:
    """A file to place: its size, the boundary its data starts on (bytes, counted from the start
    of the disk) and the bytes it takes before the next file (its room to grow)."""

    size: int
    align: int = PAGE
    room: int = 0


@dataclass(frozen=True)
class Layout:
    geometry: Geometry
    nodes: tuple[Node, ...]  # the root, directories, then files; clusters ascending
    next_free: int  # the first free cluster

    def placement(self, path: str) -> int:
        """Byte offset of a file's data from the start of the volume."""
        node = next(n for n in self.nodes if n.path == path and not n.is_dir)
        return self.geometry.offset(node.first)


def _directories(paths: Iterable[str]) -> list[str]:
    found = {""}
    for path in paths:
        while path := _parent(path):
            found.add(path)
    return sorted(found, key=lambda p: (p.count("/") + (p != ""), p))


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _children(directory: str, nodes: Iterable[Node]) -> list[Node]:
    return [n for n in nodes if n.path and _parent(n.path) == directory]


def _aligned(geo: Geometry, cluster: int, align: int) -> int:
    """The first cluster from ``cluster`` on whose data starts on an ``align``-byte disk boundary."""
    if align % geo.cluster_bytes:
        raise BuildError(f"cannot align files to {align} bytes with {geo.cluster_bytes}-byte clusters")
    start = geo.hidden * SECTOR + geo.offset(cluster)
    return cluster + (-start % align) // geo.cluster_bytes


def plan(geo: Geometry, files: Mapping[str, int | Placed], attributes: Mapping[str, int] | None = None) -> Layout:
    """Clusters for every directory and file (``{path: size or Placed}``), each contiguous, files in
    the order given; ``attributes`` gives some files their FAT attribute bits."""
    nodes: list[Node] = []
    cluster = 2
    directories = _directories(files)
    for path in directories:
        entries = sum(1 for p in [*directories, *files] if p and _parent(p) == path)
        count = max(1, -(-(entries * 3 + 8) * ENTRY // geo.cluster_bytes))  # room for long names and more
        nodes.append(Node(path, cluster, count, 0, True))
        cluster += count
    for path, given in files.items():
        item = given if isinstance(given, Placed) else Placed(given)
        count = -(-item.size // geo.cluster_bytes)
        if count:
            cluster = _aligned(geo, cluster, max(item.align, PAGE))
        nodes.append(Node(path, cluster if count else 0, count, item.size, False, (attributes or {}).get(path, 0)))
        cluster += max(count, -(-item.room // geo.cluster_bytes))
    next_free = _aligned(geo, cluster, PAGE)
    if next_free - 2 > geo.clusters:
        raise BuildError(f"the files need {next_free - 2} clusters; the volume has {geo.clusters}")
    return Layout(geo, tuple(nodes), next_free)


def boot_sector(geo: Geometry, serial: int, label: str) -> bytes:
    """The volume's boot sector: a FAT32 BPB and code that hands over to the next boot device."""
    out = bytearray(SECTOR)
    out[0:11] = b"\xeb\x58\x90LKCLOUD "
    struct.pack_into("<HBHBHHBHHH", out, 11, SECTOR, geo.cluster_sectors, geo.reserved, 2, 0, 0, 0xF8, 0, 63, 255)
    struct.pack_into("<II", out, 28, geo.hidden, geo.sectors)
    struct.pack_into("<IHHIHH", out, 36, geo.fat_sectors, 0, 0, 2, 1, BACKUP_BOOT)
    struct.pack_into("<BBBI", out, 64, 0x80, 0, 0x29, serial)
    out[71:90] = _label(label) + b"FAT32   "
    out[90 : 90 + len(NOT_BOOTABLE)] = NOT_BOOTABLE
    out[510:512] = b"\x55\xaa"
    return bytes(out)


def _fsinfo(free: int, next_free: int) -> bytes:
    out = bytearray(SECTOR)
    struct.pack_into("<I", out, 0, 0x41615252)
    struct.pack_into("<IIII", out, 484, 0x61417272, free, next_free, 0)
    struct.pack_into("<I", out, 508, 0xAA550000)
    return bytes(out)


def _fat(layout: Layout) -> bytes:
    table = array("I", [0x0FFFFFF8, EOC])
    for node in layout.nodes:
        if node.count:
            table.extend([0] * (node.first - len(table)))
            table.extend(range(node.first + 1, node.first + node.count))
            table.append(EOC)
    if struct.pack("=I", 1) != struct.pack("<I", 1):
        table.byteswap()
    return table.tobytes()


def _label(label: str) -> bytes:
    return label.upper().encode("ascii")[:11].ljust(11)


def _stamp(epoch: int) -> tuple[int, int]:
    """(FAT time, FAT date) of an epoch, read as UTC, clamped to 1980..2107."""
    low, high = datetime.datetime(1980, 1, 1, tzinfo=datetime.UTC), datetime.datetime(2107, 12, 31, tzinfo=datetime.UTC)
    when = min(max(datetime.datetime.fromtimestamp(epoch, datetime.UTC), low), high)
    return when.hour << 11 | when.minute << 5 | when.second // 2, (when.year - 1980) << 9 | when.month << 5 | when.day


def _entry(short: bytes, attr: int, case: int, node: tuple[int, int], epoch: int) -> bytes:
    """A short directory entry; ``node`` is (first cluster, size)."""
    (cluster, size), (time, date) = node, _stamp(epoch)
    tenths = (epoch % 2) * 100
    high, low = cluster >> 16, cluster & 0xFFFF
    return struct.pack("<11sBBBHHHHHHHI", short, attr, case, tenths, time, date, date, high, time, date, low, size)


def _short_part(part: str, limit: int) -> tuple[bytes, bool] | None:
    """An 8.3 part as stored, and whether it is all lowercase; None if it needs a long name."""
    if len(part) > limit or not set(part.upper()) <= SHORT_CHARS or part not in (part.upper(), part.lower()):
        return None
    return part.upper().encode("ascii"), part != part.upper()


def _split(name: str) -> tuple[str, str]:
    base, _, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    return base, ext


def _short(name: str) -> tuple[bytes, int] | None:
    base, ext = _split(name)
    found_base, found_ext = _short_part(base, 8), _short_part(ext, 3)
    if not base or found_base is None or found_ext is None:
        return None
    case = (LOWER_BASE if found_base[1] else 0) | (LOWER_EXT if found_ext[1] else 0)
    return found_base[0].ljust(8) + found_ext[0].ljust(3), case


def _alias(name: str, taken: set[bytes]) -> bytes:
    clean = ["".join(c for c in part.upper() if c in SHORT_CHARS) for part in _split(name)]
    for n in range(1, 1000):
        tail = f"~{n}"
        short = (clean[0][: 8 - len(tail)] + tail).ljust(8).encode() + clean[1][:3].ljust(3).encode()
        if short not in taken:
            return short
    raise BuildError(f"too many long names like {name!r} in one directory")


def _long_entries(name: str, short: bytes) -> bytes:
    checksum = 0
    for byte in short:
        checksum = ((checksum & 1) << 7) + (checksum >> 1) + byte & 0xFF
    units = name.encode("utf-16-le") + b"\0\0"
    units += b"\xff" * (-len(units) % 26)
    chunks = [units[i : i + 26] for i in range(0, len(units), 26)]
    out = b""
    for index in range(len(chunks), 0, -1):
        chunk = chunks[index - 1]
        order = index | (0x40 if index == len(chunks) else 0)
        out += struct.pack("<B10sBBB12sH4s", order, chunk[:10], ATTR_LFN, 0, checksum, chunk[10:22], 0, chunk[22:])
    return out


def _directory(layout: Layout, node: Node, parent: int, label: str, epoch: int) -> bytes:
    out = bytearray()
    if node.path:
        out += _entry(b".          ", ATTR_DIR, 0, (node.first, 0), epoch)
        out += _entry(b"..         ", ATTR_DIR, 0, (parent, 0), epoch)
    else:
        out += _entry(_label(label), ATTR_LABEL, 0, (0, 0), epoch)
    taken: set[bytes] = set()
    for child in sorted(_children(node.path, layout.nodes), key=lambda n: n.path):
        name = PurePosixPath(child.path).name
        found = _short(name)
        if found is None or found[0] in taken:
            short, case = _alias(name, taken), 0
            out += _long_entries(name, short)
        else:
            short, case = found
        taken.add(short)
        out += _entry(short, ATTR_DIR if child.is_dir else child.attributes, case, (child.first, child.size), epoch)
    if len(out) > node.count * layout.geometry.cluster_bytes:
        raise BuildError(f"directory {node.path or '/'} has too many entries")
    return bytes(out)


def write_metadata(fh: BinaryIO, base: int, layout: Layout, *, serial: int, label: str, epoch: int) -> None:
    """Everything but the file data, at byte ``base`` of ``fh`` (a zero-filled volume)."""
    geo = layout.geometry
    boot = boot_sector(geo, serial, label)
    used = sum(n.count for n in layout.nodes)
    info = _fsinfo(geo.clusters - used, layout.next_free)
    for sector in (0, BACKUP_BOOT):
        fh.seek(base + sector * SECTOR)
        fh.write(boot + info)
    fat = _fat(layout)
    for copy in range(2):
        fh.seek(base + (geo.reserved + copy * geo.fat_sectors) * SECTOR)
        fh.write(fat)
    firsts = {n.path: n.first for n in layout.nodes if n.is_dir}
    for node in layout.nodes:
        if node.is_dir:
            parent = firsts[_parent(node.path)] if _parent(node.path) else 0
            fh.seek(base + geo.offset(node.first))
            fh.write(_directory(layout, node, parent, label, epoch))


def set_serial(fh: BinaryIO, base: int, serial: int) -> None:
    """Set the volume serial in the boot sector and its backup."""
    for sector in (0, BACKUP_BOOT):
        fh.seek(base + sector * SECTOR + 67)
        fh.write(struct.pack("<I", serial))


def write_files(fh: BinaryIO, base: int, layout: Layout, files: Mapping[str, File]) -> None:
    """Stream every file's data to its clusters."""
    for path in sorted(files):
        fh.seek(base + layout.placement(path))
        files[path].write(fh)
