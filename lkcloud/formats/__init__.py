"""Output formats: a table mapping a format name to a small writer.

Each format module exposes ``FORMATS: dict[str, Format]``; :data:`MODULES` lists them and
:func:`table` merges them. A writer receives the kernel, initrd and cmdline (built once per
build) and, for formats that need it, the root filesystem tar, and writes its outputs
atomically under ``inputs.outdir``. The disk building blocks the writers use (partition tables,
FAT, UKI, syslinux, VHD footers, sparse tars) are in :mod:`lkcloud.disk`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter
from lkcloud.reproducible import LINUXKIT_MTIME

# Modules that contribute formats (each defines FORMATS), in the order `lkcloud build --help` lists them.
MODULES = (
    "lkcloud.formats.kernel_initrd",  # kernel+initrd, tar-kernel-initrd
    "lkcloud.formats.tar",  # tar, docker
    "lkcloud.formats.raw",  # raw-efi, raw-bios, raw, aws
    "lkcloud.formats.gcp",  # gcp
    "lkcloud.formats.vhd",  # vhd, dynamic-vhd
    "lkcloud.formats.qemu_img",  # qcow2-bios, qcow2-efi, vmdk
    "lkcloud.formats.iso",  # iso-bios, iso-efi
)


@dataclass(frozen=True)
class BuildInputs:
    """What a format writer gets. Paths point into the build's private work directory."""

    name: str
    outdir: Path
    workdir: Path
    cmdline: str
    arch: str = "amd64"
    kernel: Path | None = None  # the kernel binary
    initrd: Path | None = None  # the compressed initrd, ucode already prepended
    ucode: Path | None = None  # the ucode cpio, if the kernel image has one
    initrd_only: Path | None = None  # the compressed initrd without the ucode (tar-kernel-initrd)
    kernel_digest: str = ""  # SHA-256 (hex) of kernel and initrd when the build took it as it wrote
    initrd_digest: str = ""  # them; writers hash the files themselves otherwise
    rootfs_tar: Path | None = None  # the full root filesystem tar (PAX), when `needs_rootfs`
    size: int | None = None  # --size in bytes, where it applies
    source_date_epoch: int = LINUXKIT_MTIME


@dataclass(frozen=True)
class Format:
    name: str
    outputs: Callable[[str], tuple[str, ...]]  # NAME -> output file names
    write: Callable[[BuildInputs, Reporter], list[Path]]
    needs_kernel: bool = True  # needs kernel + initrd + cmdline
    needs_rootfs: bool = False  # needs the root filesystem tar
    boot_mode: BootMode | None = None
    help: str = ""


def table() -> dict[str, Format]:
    """Every known format, by name."""
    found: dict[str, Format] = {}
    for name in MODULES:  # imported here: each format module imports this one
        found.update(importlib.import_module(name).FORMATS)
    return found


def get(name: str) -> Format:
    formats = table()
    try:
        return formats[name]
    except KeyError:
        raise UsageError(
            f"unknown format {name!r}", hint="choose one of: " + ", ".join(sorted(formats))
        ) from None
