"""A hybrid ISO that boots four ways: isolinux for BIOS (CD and, through ``isohdpfx.bin``,
USB/disk) and an El Torito EFI image (a small FAT holding the UKI) for UEFI, made with xorriso.
For arm64 it is the EFI image alone (CD and disk), with the arm64 UKI.

Files in the tree get the fixed mtime, Rock Ridge ownership is normalised (``-r``) and xorriso
honours ``SOURCE_DATE_EPOCH``, so the same content gives the same ISO.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lkcloud.disk import bootloader, efi, fat
from lkcloud.disk.bootdisk import BootContent
from lkcloud.disk.ids import ContentId
from lkcloud.process import run

VOLUME_ID = "LKCLOUD"
BOOT_FILES = ("uki-stub", "isolinux.bin", "isohdpfx.bin", "ldlinux.c32")
EFI_IMAGE = "boot/efiboot.img"


def boot_files(arch: str) -> tuple[str, ...]:
    """The boot loader files an ISO for ``arch`` needs."""
    return (efi.efi(arch).stub,) if efi.uefi_only(arch) else BOOT_FILES


def _efiboot(path: Path, uki: Path, ident: ContentId, epoch: int, arch: str) -> None:
    """A FAT12/16 image sized to the UKI, holding it as EFI/BOOT/BOOTX64.EFI (BOOTAA64.EFI)."""
    size = fat.size_for([uki.stat().st_size], fat32=False)
    with path.open("wb") as fh:
        fh.truncate(size)
    volume = fat.Volume(path, 0, size, ident.u32("efiboot-serial"), "EFIBOOT", epoch)
    fat.make(volume, fat32=False)
    fat.populate(volume, {efi.efi(arch).boot_path: uki})


def _tree(content: BootContent, root: Path, uki: Path, ident: ContentId) -> None:
    content.check()
    (root / "boot").mkdir(parents=True)
    _efiboot(root / EFI_IMAGE, uki, ident, content.epoch, content.arch)
    if not efi.uefi_only(content.arch):
        _isolinux(content, root)
    for item in [*sorted(root.rglob("*"), reverse=True), root]:
        os.utime(item, (content.epoch, content.epoch), follow_symlinks=False)
        item.chmod(0o755 if item.is_dir() else 0o644)


def _isolinux(content: BootContent, root: Path) -> None:
    (root / "isolinux").mkdir()
    shutil.copyfile(bootloader.path("isolinux.bin"), root / "isolinux" / "isolinux.bin")
    shutil.copyfile(bootloader.path("ldlinux.c32"), root / "isolinux" / "ldlinux.c32")
    (root / "isolinux" / "isolinux.cfg").write_bytes(
        bootloader.syslinux_cfg(content.cmdline, "/boot/vmlinuz", "/boot/initrd.img")
    )
    shutil.copyfile(content.kernel, root / "boot" / "vmlinuz")
    shutil.copyfile(content.initrd, root / "boot" / "initrd.img")


def write_iso(content: BootContent, workdir: Path, target: Path, uki: Path) -> None:
    """Write the hybrid ISO to ``target``, staging its tree under ``workdir``."""
    bootloader.require(*boot_files(content.arch))
    ident = content.content_id("iso", 0)
    root = workdir / "iso" / ident.digest[:16]
    if root.exists():
        shutil.rmtree(root)
    _tree(content, root, uki, ident)
    bios: list[str | Path] = [] if efi.uefi_only(content.arch) else [
        "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4",
        "-boot-info-table", "-isohybrid-mbr", bootloader.path("isohdpfx.bin"), "-eltorito-alt-boot",
    ]
    argv: list[str | Path] = [
        "xorriso", "-as", "mkisofs", "-o", target, "-V", VOLUME_ID, "-J", "-r", *bios,
        "-e", EFI_IMAGE, "-no-emul-boot", "-isohybrid-gpt-basdat", root,
    ]
    run(argv, env={"SOURCE_DATE_EPOCH": str(content.epoch), "TZ": "UTC"})
    shutil.rmtree(root)
