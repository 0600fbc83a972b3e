"""Disks converted by qemu-img: ``qcow2-bios``, ``qcow2-efi`` and ``vmdk`` (streamOptimized)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lkcloud.disk import convert
from lkcloud.disk.bootdisk import Disk, DiskKind
from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.staging import Writer, disk_format, output, source_disk
from lkcloud.fsutil import atomic_path
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter


def converted(kind: DiskKind, suffix: str, how: Callable[[Disk, Path], None]) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        target = output(inputs, suffix, reporter)
        disk = source_disk(inputs, kind)
        with atomic_path(target) as tmp:
            how(disk, tmp)
        return [target]

    return write


def _qcow2(disk: Disk, target: Path) -> None:
    convert.to_qcow2(disk.path, target)


def _vmdk(disk: Disk, target: Path) -> None:
    convert.to_vmdk(disk.path, target, disk.ident.u32("vmdk-cid"))


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        disk_format("qcow2-bios", ".qcow2", converted(DiskKind.BIOS, ".qcow2", _qcow2), BootMode.BIOS,
                    "qcow2 of the BIOS disk"),
        disk_format("qcow2-efi", "-efi.qcow2", converted(DiskKind.EFI, "-efi.qcow2", _qcow2), BootMode.UEFI,
                    "qcow2 of the EFI disk"),
        disk_format("vmdk", ".vmdk", converted(DiskKind.HYBRID, ".vmdk", _vmdk), BootMode.HYBRID,
                    "streamOptimized VMDK (lsilogic) of the dual-boot disk"),
    )
}
