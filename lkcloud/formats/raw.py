"""Raw disks: ``raw-efi``, ``raw-bios``, ``raw`` (one GPT disk that boots both ways) and ``aws``
(the dual-boot disk, as EBS snapshots take it)."""

from __future__ import annotations

from pathlib import Path

from lkcloud.disk.bootdisk import DiskKind, write_disk
from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.staging import Writer, boot_content, disk_format, output, requested_size
from lkcloud.fsutil import atomic_path
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter


def raw_disk(kind: DiskKind, suffix: str) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        content = boot_content(inputs)
        target = output(inputs, suffix, reporter)
        size = requested_size(inputs)
        with atomic_path(target) as tmp:
            write_disk(content, kind, tmp, size)
        return [target]

    return write


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        disk_format("raw-efi", "-efi.img", raw_disk(DiskKind.EFI, "-efi.img"), BootMode.UEFI,
                    "GPT disk, FAT32 ESP holding a UKI"),
        disk_format("raw-bios", "-bios.img", raw_disk(DiskKind.BIOS, "-bios.img"), BootMode.BIOS,
                    "MBR disk, FAT32 partition with syslinux"),
        disk_format("raw", ".img", raw_disk(DiskKind.HYBRID, ".img"), BootMode.HYBRID,
                    "GPT disk that boots with BIOS (syslinux) and UEFI (UKI)"),
        disk_format("aws", ".raw", raw_disk(DiskKind.HYBRID, ".raw"), BootMode.HYBRID,
                    "raw dual-boot disk for EBS snapshots"),
    )
}
