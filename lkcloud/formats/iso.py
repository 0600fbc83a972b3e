"""``iso-bios`` and ``iso-efi``: one hybrid ISO (isolinux and an EFI image holding the UKI)."""

from __future__ import annotations

from pathlib import Path

from lkcloud.disk import bootloader, iso
from lkcloud.disk.bootdisk import stage_uki
from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.staging import Writer, boot_content, disk_format, output
from lkcloud.fsutil import atomic_path
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter


def iso_image(suffix: str) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        content = boot_content(inputs)
        target = output(inputs, suffix, reporter)
        bootloader.require(*iso.boot_files(content.arch))
        uki = stage_uki(content, inputs.workdir)
        with atomic_path(target) as tmp:
            iso.write_iso(content, inputs.workdir, tmp, uki)
        return [target]

    return write


FORMATS: dict[str, Format] = {
    "iso-bios": disk_format("iso-bios", ".iso", iso_image(".iso"), BootMode.HYBRID, "hybrid ISO (isolinux + EFI)"),
    "iso-efi": disk_format("iso-efi", "-efi.iso", iso_image("-efi.iso"), BootMode.HYBRID,
                           "hybrid ISO (isolinux + EFI)"),
}
