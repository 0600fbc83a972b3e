"""The AWS provider's enumerated choices (no SDK import: the CLI uses them for its flags)."""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    DIRECT = "direct"  # EBS direct APIs
    IMPORT = "import"  # S3 + ImportSnapshot


class AwsBootMode(StrEnum):
    UEFI = "uefi"
    LEGACY_BIOS = "legacy-bios"
    UEFI_PREFERRED = "uefi-preferred"


class Arch(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"
