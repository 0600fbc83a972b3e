"""What a built image is for: its CPU architecture and how it boots.

These are the lowest vocabulary of the pipeline (formats, builds and providers all use them), so
they live below every other module. Each accepts the aliases users and clouds spell them with.
"""

from __future__ import annotations

from enum import StrEnum

from lkcloud.errors import UsageError


class BootMode(StrEnum):
    BIOS = "bios"
    UEFI = "uefi"
    HYBRID = "hybrid"  # one disk that boots both ways


class Arch(StrEnum):
    AMD64 = "amd64"
    ARM64 = "arm64"


ARCH_ALIASES: dict[str, Arch] = {
    "amd64": Arch.AMD64, "x86_64": Arch.AMD64, "x86-64": Arch.AMD64,
    "arm64": Arch.ARM64, "aarch64": Arch.ARM64,
}
BOOT_ALIASES: dict[str, BootMode] = {
    "bios": BootMode.BIOS, "legacy-bios": BootMode.BIOS,
    "uefi": BootMode.UEFI,
    "hybrid": BootMode.HYBRID, "both": BootMode.HYBRID, "uefi-preferred": BootMode.HYBRID,
}


def parse_arch(text: str | Arch, what: str = "--arch") -> Arch:
    """``amd64``/``x86_64`` or ``arm64``/``aarch64``; UsageError naming ``what`` otherwise."""
    found = ARCH_ALIASES.get(str(text).strip().lower())
    if found is None:
        raise UsageError(f"{what}: unknown architecture {text!r}",
                         hint="choose amd64 (x86_64) or arm64 (aarch64)")
    return found


def parse_boot_mode(text: str | BootMode, what: str = "--boot-mode") -> BootMode:
    """``bios``, ``uefi`` or ``hybrid`` (and the clouds' spellings of them)."""
    found = BOOT_ALIASES.get(str(text).strip().lower())
    if found is None:
        raise UsageError(f"{what}: unknown boot mode {text!r}",
                         hint="choose bios (legacy-bios), uefi, or hybrid (both, uefi-preferred)")
    return found


def host_arch() -> Arch:
    """The architecture of this machine (amd64 when it is neither)."""
    import platform

    return ARCH_ALIASES.get(platform.machine().lower(), Arch.AMD64)
