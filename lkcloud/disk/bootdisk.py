"""Bootable disks without root: a partition table and a FAT32 boot partition written in Python
(:mod:`lkcloud.disk.fatwriter`), syslinux for BIOS (installed in-process,
:mod:`lkcloud.disk.syslinux`), a UKI for UEFI.

Three kinds: ``efi`` (GPT + ESP holding the UKI), ``bios`` (MBR + one active FAT32 partition with
syslinux and ``mbr.bin``) and ``hybrid`` (GPT whose ESP holds both; ``gptmbr.bin`` boots the
partition flagged legacy-BIOS-bootable). The boot partition starts at 1 MiB; the disk file is
sparse. The partition is laid out for small deltas (:mod:`lkcloud.disk.layout`): the syslinux
files first, then the kernel, the UKI and the initrd last, each large one on a 512 KiB boundary
of the disk with room to grow. The disk's identifiers (GUIDs, serials) derive from its name,
kind, size and command line, not from its content, so a new release changes only the blocks
whose content changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lkcloud.disk import bootloader, efi, fat, fatwriter, gpt, layout, mbr, syslinux, uki
from lkcloud.disk.ids import GIB, MIB, SECTOR, ContentId, file_digest
from lkcloud.errors import BuildError, UsageError

PARTITION_START = MIB
TAIL = MIB  # room for the backup GPT, keeping the partition end MiB-aligned
SYSLINUX_FILES = ("ldlinux.sys", "ldlinux.c32")


class DiskKind(StrEnum):
    EFI = "efi"
    BIOS = "bios"
    HYBRID = "hybrid"


# The UKI stub (per architecture, lkcloud.disk.efi) is checked as the UKI is made.
_BOOT_FILES: dict[DiskKind, tuple[str, ...]] = {
    DiskKind.EFI: (),
    DiskKind.BIOS: ("mbr.bin",),
    DiskKind.HYBRID: ("gptmbr.bin",),
}
_BOOT_CODE = {DiskKind.BIOS: "mbr.bin", DiskKind.HYBRID: "gptmbr.bin"}


@dataclass(frozen=True)
class BootContent:
    """What a boot disk boots: a kernel, its initrd and command line, under an image name."""

    name: str
    kernel: Path
    initrd: Path
    cmdline: str
    epoch: int  # every timestamp written (SOURCE_DATE_EPOCH)
    kernel_digest: str = ""  # SHA-256 (hex) when known; hashed from the files otherwise
    initrd_digest: str = ""
    arch: str = "amd64"  # which UKI stub, and where firmware finds it

    def check(self) -> None:
        for item in (self.kernel, self.initrd):
            if not item.is_file():
                raise BuildError(f"missing build input {item}")

    def content_id(self, kind: str, size: int) -> ContentId:
        """A digest of everything that goes into a ``kind`` image of ``size`` bytes (a cache key)."""
        return ContentId.of(kind, self.name, self.cmdline, str(size), str(self.epoch),
                            self.kernel_digest or file_digest(self.kernel),
                            self.initrd_digest or file_digest(self.initrd))

    def identity(self, kind: str, size: int) -> ContentId:
        """Where a disk's GUIDs and serials come from: the same for every release of the image."""
        return ContentId.of(kind, self.name, self.cmdline, str(size), str(self.epoch))


@dataclass(frozen=True)
class Disk:
    """What was written: enough to derive more formats from it."""

    path: Path
    kind: DiskKind
    size: int
    ident: ContentId  # the disk's identity (see BootContent.identity)


def human(size: int) -> str:
    return f"{size / GIB:g} GiB" if size % GIB == 0 else f"{-(-size // MIB)} MiB"


def stage_uki(content: BootContent, workdir: Path) -> Path:
    """Build the UKI once per content into ``workdir`` (shared by every format of a build)."""
    content.check()
    target = workdir / "uki" / f"{content.content_id('uki', 0).digest[:16]}.efi"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with partial.open("wb") as out:
            parts = uki.sections(content.name, content.kernel, content.initrd, content.cmdline)
            uki.write(out, efi.uki_stub(content.arch), parts)
        os.replace(partial, target)
    return target


def _uki(content: BootContent) -> fatwriter.File:
    stub = efi.uki_stub(content.arch)
    parts = uki.sections(content.name, content.kernel, content.initrd, content.cmdline)
    return fatwriter.File(uki.image_size(stub, parts), lambda out: uki.write(out, stub, parts))


def boot_files(content: BootContent, kind: DiskKind, loader: syslinux.Template | None) -> dict[str, fatwriter.File]:
    """``{path on the boot partition: content}`` in placement order: small files, then the large
    ones that change most often last (the initrd, and the UKI that holds it)."""
    files: dict[str, fatwriter.File] = {}
    if loader is not None:
        files["ldlinux.sys"] = fatwriter.from_bytes(loader.ldlinux_sys)  # re-patched once placed
        files["ldlinux.c32"] = fatwriter.from_bytes(loader.ldlinux_c32)
        files["syslinux.cfg"] = fatwriter.from_bytes(bootloader.syslinux_cfg(content.cmdline))
        files["vmlinuz"] = fatwriter.from_path(content.kernel)
    if kind in (DiskKind.EFI, DiskKind.HYBRID):
        files[efi.efi(content.arch).boot_path] = _uki(content)
    if loader is not None:
        files["initrd.img"] = fatwriter.from_path(content.initrd)
    return files


def _placed(files: dict[str, fatwriter.File]) -> dict[str, fatwriter.Placed]:
    """Small files packed; the kernel, UKI and initrd each on a block with room to grow."""
    large = {"vmlinuz", "initrd.img", *(target.boot_path for target in efi.EFI.values())}
    return {path: fatwriter.Placed(f.size, layout.BLOCK, layout.room(f.size)) if path in large
            else fatwriter.Placed(f.size) for path, f in files.items()}


def _plan(name: str, kind: DiskKind, size: int, files: dict[str, fatwriter.File]) -> fatwriter.Layout:
    placed = _placed(files)
    needed = fat.size_for((max(p.size, p.room) + p.align for p in placed.values()), fat32=True)
    available = size - PARTITION_START - TAIL
    if needed > available:
        minimum = PARTITION_START + needed + TAIL
        raise UsageError(
            f"--size {human(size)} is too small for {name}: the {kind} disk needs at least {human(minimum)}",
            hint=f"use --size {-(-minimum // MIB)}M or more",
        )
    part_size = layout.partition_size(needed, available)
    geo = fatwriter.geometry(part_size, fat.fat32_cluster_sectors(part_size), PARTITION_START // SECTOR,
                             layout.BLOCK)
    system = {name: syslinux.SYSTEM_FILE for name in SYSLINUX_FILES if name in files}
    return fatwriter.plan(geo, placed, system)


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


def write_disk(content: BootContent, kind: DiskKind, target: Path, size: int) -> Disk:
    """Write a bootable disk of ``size`` bytes (a whole number of MiB) at ``target`` (created or
    truncated). A dual-boot disk for an architecture that boots by UEFI only (arm64) is written
    UEFI-only. Raises :class:`UsageError` when the content does not fit."""
    if kind is DiskKind.HYBRID and efi.uefi_only(content.arch):
        kind = DiskKind.EFI
    bootloader.require(*_BOOT_FILES[kind])
    content.check()
    loader = syslinux.template() if kind in _BOOT_CODE else None
    files = boot_files(content, kind, loader)
    plan = _plan(content.name, kind, size, files)
    geo = plan.geometry
    first = plan.placement("ldlinux.sys") // SECTOR if loader is not None else 0  # a contiguous file
    if loader is not None:
        sectors = list(range(first, first + loader.sectors))
        files["ldlinux.sys"] = fatwriter.from_bytes(syslinux.patched(loader, sectors))
    label = "ESP" if kind != DiskKind.BIOS else "BOOT"
    ident = content.identity(kind, size)
    serial = ident.u32("fat-serial")
    with target.open("wb") as fh:
        fh.truncate(size)
        fatwriter.write_files(fh, PARTITION_START, plan, files)
        fatwriter.write_metadata(fh, PARTITION_START, plan, serial=serial, label=label, epoch=content.epoch)
        if loader is not None:
            fh.seek(PARTITION_START)
            fh.write(syslinux.boot_sector(loader, fatwriter.boot_sector(geo, serial, label), first))
    _partition_table(target, kind, size, geo.sectors * SECTOR, ident)
    if kind in _BOOT_CODE:
        bootloader.write_boot_code(target, _BOOT_CODE[kind])
    return Disk(target, kind, size, ident)
