"""What the target architecture changes in the output formats.

arm64 machines boot by UEFI only (AWS Graviton, GCP Tau T2A/Axion, Azure Cobalt, QEMU's virt
machine with AAVMF), so for arm64:

- the formats that boot only by BIOS are refused before any work (:func:`check_formats`);
- the dual-boot disks that clouds take (``aws``, ``gcp``, ``vhd``) are written UEFI-only
  (:func:`lkcloud.disk.bootdisk.write_disk`), and ``iso-efi`` is an EFI-only ISO;
- the UKI is built on systemd-boot's arm64 stub and installed as ``EFI/BOOT/BOOTAA64.EFI``
  (:mod:`lkcloud.disk.efi`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lkcloud.disk.efi import uefi_only
from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode

if TYPE_CHECKING:
    from lkcloud.formats import Format


# The disk formats an arm64 build writes; the others need a BIOS (or an x86 VMware adapter).
ARM64_DISKS = ("raw-efi", "aws", "gcp", "vhd", "qcow2-efi", "iso-efi")
# For a refused format, the one to use instead.
ARM64_INSTEAD = {"raw": "raw-efi", "raw-bios": "raw-efi", "qcow2-bios": "qcow2-efi", "iso-bios": "iso-efi"}


def check_formats(arch: str | Arch, formats: Iterable[Format]) -> None:
    """Refuse, before any work, a format that cannot boot on ``arch`` (one line, naming it)."""
    if not uefi_only(arch):
        return
    for fmt in formats:
        if fmt.boot_mode is None or fmt.name in ARM64_DISKS:
            continue
        instead = ARM64_INSTEAD.get(fmt.name)
        hint = f"use -f {instead}" if instead else f"arm64 disk formats: {', '.join(ARM64_DISKS)}"
        how = "boots by BIOS" if fmt.boot_mode is BootMode.BIOS else "boots by BIOS and UEFI"
        raise UsageError(f"format {fmt.name} {how}: arm64 machines boot by UEFI only", hint=hint)
