"""What the target architecture changes in the output formats.

arm64 machines boot by UEFI only (AWS Graviton, GCP Tau T2A/Axion, Azure Cobalt, QEMU's virt
machine with AAVMF), so for arm64:

- the formats that boot only by BIOS are refused before any work (:func:`check_formats`);
- the dual-boot disks that clouds take (``aws``, ``gcp``, ``vhd``) are written UEFI-only
  (:func:`disk_kind`), and ``iso-efi`` is an EFI-only ISO;
- the UKI is built on systemd-boot's arm64 stub (``linuxaa64.efi.stub``, from Debian's arm64
  ``systemd-boot-efi`` when this machine is amd64) and installed as ``EFI/BOOT/BOOTAA64.EFI``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lkcloud.errors import BuildError, UsageError
from lkcloud.formats import bootloader
from lkcloud.platform import Arch, BootMode, parse_arch

if TYPE_CHECKING:
    from lkcloud.formats import Format
    from lkcloud.formats.raw import DiskKind


@dataclass(frozen=True)
class EfiTarget:
    """How a UKI is made and found for one architecture."""

    stub: str  # the bootloader.FILES name of systemd-boot's stub
    boot_path: str  # the removable-media path UEFI firmware starts
    machine: int  # the PE machine type of the stub and the kernel it carries


EFI: dict[Arch, EfiTarget] = {
    Arch.AMD64: EfiTarget("uki-stub", "EFI/BOOT/BOOTX64.EFI", 0x8664),
    Arch.ARM64: EfiTarget("uki-stub-arm64", "EFI/BOOT/BOOTAA64.EFI", 0xAA64),
}

# The disk formats an arm64 build writes; the others need a BIOS (or an x86 VMware adapter).
ARM64_DISKS = ("raw-efi", "aws", "gcp", "vhd", "qcow2-efi", "iso-efi")
# For a refused format, the one to use instead.
ARM64_INSTEAD = {"raw": "raw-efi", "raw-bios": "raw-efi", "qcow2-bios": "qcow2-efi", "iso-bios": "iso-efi"}


def efi(arch: str | Arch) -> EfiTarget:
    return EFI[parse_arch(arch)]


def uki_stub(arch: str | Arch) -> Path:
    """systemd-boot's stub for ``arch`` (fetched from Debian for another architecture), checked
    to be a PE image for that machine."""
    target = efi(arch)
    stub = bootloader.path(target.stub)
    with stub.open("rb") as fh:
        head = fh.read(4096)
    pe = struct.unpack_from("<I", head, 0x3C)[0] if head[:2] == b"MZ" and len(head) >= 0x40 else 0
    machine = struct.unpack_from("<H", head, pe + 4)[0] if 0 < pe <= len(head) - 6 else None
    if head[pe:pe + 4] != b"PE\0\0" or machine != target.machine:
        raise BuildError(f"{stub} is not a UEFI stub for {parse_arch(arch)}",
                         hint=f"reinstall Debian's systemd-boot-efi, or remove {stub.parent} if it is a cached copy")
    return stub


def uefi_only(arch: str | Arch) -> bool:
    """True when machines of ``arch`` boot by UEFI only (no BIOS half is written)."""
    return parse_arch(arch) is Arch.ARM64


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


def disk_kind(kind: DiskKind, arch: str | Arch) -> DiskKind:
    """The disk ``kind`` written for ``arch``: a dual-boot disk is UEFI-only for arm64."""
    from lkcloud.formats.raw import DiskKind

    return DiskKind.EFI if uefi_only(arch) and kind is DiskKind.HYBRID else kind
