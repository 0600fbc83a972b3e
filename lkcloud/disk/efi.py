"""UEFI per architecture: systemd-boot's UKI stub and the removable-media path firmware starts.

amd64 uses ``linuxx64.efi.stub`` as ``EFI/BOOT/BOOTX64.EFI``; arm64 ``linuxaa64.efi.stub`` (from
Debian's arm64 ``systemd-boot-efi`` when this machine is amd64) as ``EFI/BOOT/BOOTAA64.EFI``.
arm64 machines boot by UEFI only (AWS Graviton, GCP Tau T2A/Axion, Azure Cobalt, QEMU's virt).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from lkcloud.disk import bootloader
from lkcloud.errors import BuildError
from lkcloud.platform import Arch, parse_arch


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


def efi(arch: str | Arch) -> EfiTarget:
    return EFI[parse_arch(arch)]


def uefi_only(arch: str | Arch) -> bool:
    """True when machines of ``arch`` boot by UEFI only (no BIOS half is written)."""
    return parse_arch(arch) is Arch.ARM64


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
