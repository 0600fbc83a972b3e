"""FAT file systems inside an image file at an offset, through mtools (no root, no loop devices).

Timestamps come from ``SOURCE_DATE_EPOCH`` (mtools honours it) and the volume serial is given,
so the same content gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lkcloud.disk.ids import MIB, SECTOR, align_up
from lkcloud.process import run

FAT32_MIN_BYTES = 40 * MIB  # FAT32 needs >= 65525 clusters; 512-byte clusters reach that at ~33 MiB
FAT32_MIN_CLUSTERS = 65525 + 64  # below 65525 firmware reads the volume as FAT16; keep a margin
CLUSTER = 4096  # the largest cluster we pick; used for size estimates


@dataclass(frozen=True)
class Volume:
    image: Path
    offset: int  # bytes from the start of the image
    size: int  # bytes
    serial: int
    label: str
    epoch: int  # SOURCE_DATE_EPOCH for every timestamp mtools writes

    @property
    def spec(self) -> str:
        return f"{self.image}@@{self.offset}"

    @property
    def env(self) -> dict[str, str]:
        # FAT stores local time: pin the zone so the bytes do not depend on the host's TZ.
        return {"MTOOLS_SKIP_CHECK": "1", "SOURCE_DATE_EPOCH": str(self.epoch), "TZ": "UTC"}


def size_for(files: Iterable[int], *, fat32: bool, slack: int = MIB) -> int:
    """A volume size (whole MiB) that holds files of the given sizes, with room for FAT metadata."""
    data = sum(align_up(size, CLUSTER) for size in files)
    wanted = align_up(data + data // 64 + slack + MIB, MIB)
    return max(wanted, FAT32_MIN_BYTES) if fat32 else wanted


def fat32_cluster_sectors(size: int) -> int:
    """The largest cluster (in sectors, at most 4 KiB) that still gives a valid FAT32 cluster count;
    bigger clusters make mcopy several times faster."""
    for sectors in (8, 4, 2, 1):
        if size // (sectors * SECTOR) >= FAT32_MIN_CLUSTERS:
            return sectors
    return 1


def make(volume: Volume, *, fat32: bool) -> None:
    """Create the file system (``mformat``); always with ``-T`` so nothing past the volume is touched."""
    argv = ["mformat", "-i", volume.spec, "-T", str(volume.size // SECTOR)]
    argv += ["-H", str(volume.offset // SECTOR), "-N", f"{volume.serial:08x}", "-v", volume.label]
    if fat32:
        argv += ["-F", "-c", str(fat32_cluster_sectors(volume.size))]
    run([*argv, "::"], env=volume.env)


def mkdirs(volume: Volume, paths: Iterable[str]) -> None:
    """Create directories (parents first) such as ``EFI/BOOT``."""
    wanted: set[PurePosixPath] = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        wanted.update(PurePosixPath(*parts[: i + 1]) for i in range(len(parts)))
    ordered = sorted(wanted, key=lambda p: (len(p.parts), str(p)))
    if ordered:
        run(["mmd", "-i", volume.spec, *(f"::/{p}" for p in ordered)], env=volume.env)


def copy(volume: Volume, source: Path, dest: str) -> None:
    """Copy one file into the volume as ``dest`` (e.g. ``EFI/BOOT/BOOTX64.EFI``)."""
    run(["mcopy", "-i", volume.spec, "-o", source, f"::/{dest}"], env=volume.env)


def populate(volume: Volume, files: dict[str, Path]) -> None:
    """Create the parent directories and copy ``{dest: source}`` in a stable order."""
    mkdirs(volume, {str(PurePosixPath(dest).parent) for dest in files if "/" in dest})
    for dest in sorted(files):
        copy(volume, files[dest], dest)
