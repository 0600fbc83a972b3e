"""Raw disks without root: a partition table in Python, a FAT boot partition through mtools,
syslinux for BIOS, a UKI for UEFI.

Three kinds: ``efi`` (GPT + ESP holding the UKI), ``bios`` (MBR + one active FAT32 partition with
syslinux and ``mbr.bin``) and ``hybrid`` (GPT whose ESP holds both; ``gptmbr.bin`` boots the
partition flagged legacy-BIOS-bootable). The boot partition starts at 1 MiB and is sized to its
content; the disk file is sparse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lkcloud.errors import BuildError, UsageError
from lkcloud.formats import BuildInputs, bootloader, fat, gpt, mbr, uki
from lkcloud.formats.ids import GIB, MIB, SECTOR, ContentId, align_up, file_digest

DEFAULT_SIZE = GIB
PARTITION_START = MIB
TAIL = MIB  # room for the backup GPT, keeping the partition end MiB-aligned


class DiskKind(StrEnum):
    EFI = "efi"
    BIOS = "bios"
    HYBRID = "hybrid"


_BOOT_FILES: dict[DiskKind, tuple[str, ...]] = {
    DiskKind.EFI: ("uki-stub",),
    DiskKind.BIOS: ("mbr.bin", "ldlinux.c32"),
    DiskKind.HYBRID: ("uki-stub", "gptmbr.bin", "ldlinux.c32"),
}
_BOOT_CODE = {DiskKind.BIOS: "mbr.bin", DiskKind.HYBRID: "gptmbr.bin"}
UKI_PATH = "EFI/BOOT/BOOTX64.EFI"


@dataclass(frozen=True)
class Disk:
    """What was written: enough to derive more formats from it."""

    path: Path
    kind: DiskKind
    size: int
    ident: ContentId


def kernel_and_initrd(inputs: BuildInputs) -> tuple[Path, Path]:
    if inputs.kernel is None or inputs.initrd is None:
        raise BuildError("this format needs a kernel and an initrd")
    for item in (inputs.kernel, inputs.initrd):
        if not item.is_file():
            raise BuildError(f"missing build input {item}")
    return inputs.kernel, inputs.initrd


def content_id(inputs: BuildInputs, kind: str, size: int) -> ContentId:
    kernel, initrd = kernel_and_initrd(inputs)
    return ContentId.of(
        kind,
        inputs.name,
        inputs.cmdline,
        str(size),
        str(inputs.source_date_epoch),
        file_digest(kernel),
        file_digest(initrd),
    )


def requested_size(inputs: BuildInputs, multiple: int = MIB) -> int:
    """The disk size: ``--size`` (default 1 GiB) rounded up to ``multiple``."""
    size = DEFAULT_SIZE if inputs.size is None else inputs.size
    if size <= 0:
        raise UsageError(f"--size must be positive, not {size}")
    return align_up(size, multiple)


def human(size: int) -> str:
    return f"{size / GIB:g} GiB" if size % GIB == 0 else f"{-(-size // MIB)} MiB"


def stage_uki(inputs: BuildInputs) -> Path:
    """Build the UKI once per content into the work directory (shared by every format of a build)."""
    kernel, initrd = kernel_and_initrd(inputs)
    ident = content_id(inputs, "uki", 0)
    target = inputs.workdir / "uki" / f"{ident.digest[:16]}.efi"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with partial.open("wb") as out:
            uki.write(out, bootloader.path("uki-stub"), uki.sections(inputs.name, kernel, initrd, inputs.cmdline))
        os.replace(partial, target)
    return target


def boot_files(inputs: BuildInputs, kind: DiskKind, ident: ContentId) -> dict[str, Path]:
    """``{path on the boot partition: source}`` for a disk kind."""
    kernel, initrd = kernel_and_initrd(inputs)
    files: dict[str, Path] = {}
    if kind in (DiskKind.EFI, DiskKind.HYBRID):
        files[UKI_PATH] = stage_uki(inputs)
    if kind in (DiskKind.BIOS, DiskKind.HYBRID):
        cfg = inputs.workdir / "syslinux" / f"{ident.digest[:16]}.cfg"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_bytes(bootloader.syslinux_cfg(inputs.cmdline))
        files |= {"vmlinuz": kernel, "initrd.img": initrd, "syslinux.cfg": cfg}
    return files


def _partition_table(fh_path: Path, kind: DiskKind, size: int, part_size: int, ident: ContentId) -> None:
    first = PARTITION_START // SECTOR
    with fh_path.open("r+b") as fh:
        if kind is DiskKind.BIOS:
            entry = mbr.Entry(mbr.ACTIVE, mbr.FAT32_LBA, first, part_size // SECTOR)
            fh.write(mbr.sector(b"", ident.u32("mbr-signature"), [entry]))
            return
        attributes = gpt.LEGACY_BIOS_BOOTABLE if kind is DiskKind.HYBRID else 0
        esp = gpt.Partition(first, first + part_size // SECTOR - 1, gpt.ESP_TYPE, ident.guid("esp"), "ESP", attributes)
        gpt.write(fh, size, ident.guid("disk"), [esp])


def write_disk(inputs: BuildInputs, kind: DiskKind, target: Path, size: int) -> Disk:
    """Write a bootable disk of ``size`` bytes (a whole number of MiB) at ``target`` (created or
    truncated). Raises :class:`UsageError` when the content does not fit."""
    bootloader.require(*_BOOT_FILES[kind])
    ident = content_id(inputs, kind, size)
    files = boot_files(inputs, kind, ident)
    part_size = fat.size_for((p.stat().st_size for p in files.values()), fat32=True)
    needed = PARTITION_START + part_size + TAIL
    if size < needed:
        raise UsageError(
            f"--size {human(size)} is too small for {inputs.name}: the {kind} disk needs at least {human(needed)}",
            hint=f"use --size {-(-needed // MIB)}M or more",
        )
    with target.open("wb") as fh:
        fh.truncate(size)
    _partition_table(target, kind, size, part_size, ident)
    volume = fat.Volume(
        target,
        PARTITION_START,
        part_size,
        ident.u32("fat-serial"),
        "ESP" if kind != DiskKind.BIOS else "BOOT",
        inputs.source_date_epoch,
    )
    fat.make(volume, fat32=True)
    fat.populate(volume, files)
    if kind in _BOOT_CODE:
        bootloader.install_syslinux(volume)
        bootloader.write_boot_code(target, _BOOT_CODE[kind])
    return Disk(target, kind, size, ident)
