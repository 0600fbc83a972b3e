"""Raw disks without root: a partition table and a FAT32 boot partition written in Python
(:mod:`lkcloud.formats.fatwriter`), syslinux for BIOS (installed in-process,
:mod:`lkcloud.formats.syslinux`), a UKI for UEFI.

Three kinds: ``efi`` (GPT + ESP holding the UKI), ``bios`` (MBR + one active FAT32 partition with
syslinux and ``mbr.bin``) and ``hybrid`` (GPT whose ESP holds both; ``gptmbr.bin`` boots the
partition flagged legacy-BIOS-bootable). The boot partition starts at 1 MiB and is sized to its
content; the disk file is sparse.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from lkcloud.errors import BuildError, UsageError
from lkcloud.formats import BuildInputs, arches, bootloader, fat, fatwriter, gpt, mbr, syslinux, uki
from lkcloud.formats.ids import GIB, MIB, SECTOR, ContentId, align_up, file_digest

DEFAULT_SIZE = GIB
PARTITION_START = MIB
TAIL = MIB  # room for the backup GPT, keeping the partition end MiB-aligned


class DiskKind(StrEnum):
    EFI = "efi"
    BIOS = "bios"
    HYBRID = "hybrid"


# The UKI stub (per architecture, lkcloud.formats.arches) is checked as the boot files are planned.
_BOOT_FILES: dict[DiskKind, tuple[str, ...]] = {
    DiskKind.EFI: (),
    DiskKind.BIOS: ("mbr.bin",),
    DiskKind.HYBRID: ("gptmbr.bin",),
}
_BOOT_CODE = {DiskKind.BIOS: "mbr.bin", DiskKind.HYBRID: "gptmbr.bin"}
SYSLINUX_FILES = ("ldlinux.sys", "ldlinux.c32")


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
        inputs.kernel_digest or file_digest(kernel),
        inputs.initrd_digest or file_digest(initrd),
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
            uki.write(out, arches.uki_stub(inputs.arch), uki.sections(inputs.name, kernel, initrd, inputs.cmdline))
        os.replace(partial, target)
    return target


def boot_files(inputs: BuildInputs, kind: DiskKind) -> dict[str, fatwriter.File]:
    """``{path on the boot partition: content}`` for a disk kind; the UKI is assembled in place."""
    kernel, initrd = kernel_and_initrd(inputs)
    files: dict[str, fatwriter.File] = {}
    if kind in (DiskKind.EFI, DiskKind.HYBRID):
        stub = arches.uki_stub(inputs.arch)
        parts = uki.sections(inputs.name, kernel, initrd, inputs.cmdline)

        def write_uki(out: BinaryIO) -> None:
            uki.write(out, stub, parts)

        files[arches.efi(inputs.arch).boot_path] = fatwriter.File(uki.image_size(stub, parts), write_uki)
    if kind in (DiskKind.BIOS, DiskKind.HYBRID):
        files["vmlinuz"] = fatwriter.from_path(kernel)
        files["initrd.img"] = fatwriter.from_path(initrd)
        files["syslinux.cfg"] = fatwriter.from_bytes(bootloader.syslinux_cfg(inputs.cmdline))
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


def _layout(inputs: BuildInputs, kind: DiskKind, size: int, files: dict[str, fatwriter.File]) -> fatwriter.Layout:
    part_size = fat.size_for((f.size for f in files.values()), fat32=True)
    needed = PARTITION_START + part_size + TAIL
    if size < needed:
        raise UsageError(
            f"--size {human(size)} is too small for {inputs.name}: the {kind} disk needs at least {human(needed)}",
            hint=f"use --size {-(-needed // MIB)}M or more",
        )
    geo = fatwriter.geometry(part_size, fat.fat32_cluster_sectors(part_size), PARTITION_START // SECTOR)
    system = {name: syslinux.SYSTEM_FILE for name in SYSLINUX_FILES if name in files}
    return fatwriter.plan(geo, {dest: f.size for dest, f in files.items()}, system)


def _add_syslinux(files: dict[str, fatwriter.File], loader: syslinux.Template) -> None:
    """Room for ldlinux.sys (written once its sectors are known) and ldlinux.c32."""
    files["ldlinux.sys"] = fatwriter.from_bytes(loader.ldlinux_sys)
    files["ldlinux.c32"] = fatwriter.from_bytes(loader.ldlinux_c32)


def write_disk(inputs: BuildInputs, kind: DiskKind, target: Path, size: int) -> Disk:
    """Write a bootable disk of ``size`` bytes (a whole number of MiB) at ``target`` (created or
    truncated). Raises :class:`UsageError` when the content does not fit.

    When the build gave no digests of the kernel and initrd, hashing them for the derived IDs
    overlaps streaming the files into the disk. For arm64 a dual-boot kind is written UEFI-only."""
    kind = arches.disk_kind(kind, inputs.arch)
    bootloader.require(*_BOOT_FILES[kind])
    files = boot_files(inputs, kind)
    loader = syslinux.template() if kind in _BOOT_CODE else None
    if loader is not None:
        _add_syslinux(files, loader)
    layout = _layout(inputs, kind, size, files)
    geo = layout.geometry
    first = layout.placement("ldlinux.sys") // SECTOR if loader is not None else 0  # a contiguous file
    if loader is not None:
        sectors = list(range(first, first + loader.sectors))
        files["ldlinux.sys"] = fatwriter.from_bytes(syslinux.patched(loader, sectors))
    label = "ESP" if kind != DiskKind.BIOS else "BOOT"
    with ThreadPoolExecutor(1) as pool:
        hashing = pool.submit(content_id, inputs, kind, size)
        with target.open("wb") as fh:
            fh.truncate(size)
            fatwriter.write_files(fh, PARTITION_START, layout, files)
            ident = hashing.result()
            serial, epoch = ident.u32("fat-serial"), inputs.source_date_epoch
            fatwriter.write_metadata(fh, PARTITION_START, layout, serial=serial, label=label, epoch=epoch)
            if loader is not None:
                fh.seek(PARTITION_START)
                fh.write(syslinux.boot_sector(loader, fatwriter.boot_sector(geo, serial, label), first))
    _partition_table(target, kind, size, geo.sectors * SECTOR, ident)
    if kind in _BOOT_CODE:
        bootloader.write_boot_code(target, _BOOT_CODE[kind])
    return Disk(target, kind, size, ident)
