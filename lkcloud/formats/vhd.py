"""Azure's fixed VHD (``vhd``) and Hyper-V's dynamic VHD (``dynamic-vhd``) of the dual-boot disk."""

from __future__ import annotations

from pathlib import Path

from lkcloud.disk import convert, vhd
from lkcloud.disk.bootdisk import DiskKind, write_disk
from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.staging import boot_content, disk_format, output, requested_size, source_disk
from lkcloud.fsutil import atomic_path
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter


def write_fixed_vhd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    """Azure's fixed VHD: the dual-boot disk (whole MiB) plus a footer, still sparse."""
    content = boot_content(inputs)
    target = output(inputs, ".vhd", reporter)
    size = requested_size(inputs)
    with atomic_path(target) as tmp:
        disk = write_disk(content, DiskKind.HYBRID, tmp, size)
        footer = vhd.Footer(size, vhd.timestamp(inputs.source_date_epoch), disk.ident.guid("vhd"))
        with tmp.open("r+b") as fh:
            fh.seek(size)
            fh.write(vhd.footer_bytes(footer))
    return [target]


def write_dynamic_vhd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    """A dynamic VHD converted by qemu-img, its random parts replaced by derived ones (its own name,
    so that ``-f vhd -f dynamic-vhd`` writes both)."""
    target = output(inputs, "-dynamic.vhd", reporter)
    disk = source_disk(inputs, DiskKind.HYBRID)
    with atomic_path(target) as tmp:
        convert.to_dynamic_vhd(disk.path, tmp, vhd.timestamp(inputs.source_date_epoch), disk.ident.guid("vhd"))
    return [target]


FORMATS: dict[str, Format] = {
    "vhd": disk_format("vhd", ".vhd", write_fixed_vhd, BootMode.HYBRID, "Azure fixed VHD (Gen1 and Gen2)"),
    "dynamic-vhd": disk_format("dynamic-vhd", "-dynamic.vhd", write_dynamic_vhd, BootMode.HYBRID,
                               "dynamic VHD (Hyper-V)"),
}
