"""The AWS provider's enumerated choices, in AWS's own words (no SDK import: the CLI uses them)."""

from __future__ import annotations

import re
from enum import StrEnum

from lkcloud.platform import Arch, BootMode

SNAPSHOT_ID = re.compile(r"snap-[0-9a-f]{8,17}")


class Method(StrEnum):
    DIRECT = "direct"  # EBS direct APIs
    IMPORT = "import"  # S3 + ImportSnapshot


class AwsBootMode(StrEnum):
    UEFI = "uefi"
    LEGACY_BIOS = "legacy-bios"
    UEFI_PREFERRED = "uefi-preferred"


class AwsArch(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"


# What an lkcloud disk image boots with -> the AMI boot mode that fits it.
BOOT_MODES: dict[BootMode, AwsBootMode] = {
    BootMode.BIOS: AwsBootMode.LEGACY_BIOS,
    BootMode.UEFI: AwsBootMode.UEFI,
    BootMode.HYBRID: AwsBootMode.UEFI_PREFERRED,
}
ARCHES: dict[Arch, AwsArch] = {Arch.AMD64: AwsArch.X86_64, Arch.ARM64: AwsArch.ARM64}
