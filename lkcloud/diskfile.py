"""What an image file is, read from its bytes: commands refuse what they cannot use before any
work is done (``run qemu README.md``, ``push aws disk.qcow2``).

Each kind is recognised by the marks its format puts in fixed places: qcow2's ``QFI\\xfb``,
VMDK's ``KDMV`` or text descriptor, the VHD footer's ``conectix`` (disk type 2 fixed, 3 dynamic),
ISO 9660's ``CD001`` at byte 32769, a gzip stream whose first tar member is ``disk.raw`` (the GCE
archive), a partition table (MBR signature or GPT header) for a raw disk, and a Linux kernel's
boot header for ``NAME-kernel``.
"""

from __future__ import annotations

import struct
import zlib
from enum import StrEnum
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode

SECTOR = 512
_HEAD = 36 * 1024
YAML_SUFFIXES = (".yml", ".yaml")
KERNEL_SUFFIX = "-kernel"


class Kind(StrEnum):
    RAW = "raw"
    QCOW2 = "qcow2"
    VHD = "vhd"  # fixed
    DYNAMIC_VHD = "dynamic-vhd"
    VMDK = "vmdk"
    ISO = "iso"
    GCE_TAR = "gce-tar"  # gzip'd tar holding disk.raw
    KERNEL = "kernel"  # NAME-kernel beside NAME-initrd.img and NAME-cmdline
    CONFIG = "config"  # LinuxKit YAML


DESCRIPTIONS = {
    Kind.RAW: "a raw disk image", Kind.QCOW2: "a qcow2 image", Kind.VHD: "a fixed VHD",
    Kind.DYNAMIC_VHD: "a dynamic VHD", Kind.VMDK: "a VMDK image", Kind.ISO: "an ISO image",
    Kind.GCE_TAR: "a GCE image archive (.tar.gz)", Kind.KERNEL: "a kernel+initrd build",
    Kind.CONFIG: "a LinuxKit config",
}


def _read(path: Path) -> tuple[bytes, bytes, int]:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD)
            size = fh.seek(0, 2)
            fh.seek(max(0, size - SECTOR))
            tail = fh.read(SECTOR)
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not an image file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    return head, tail, size


def _vhd_type(footer: bytes) -> int | None:
    if len(footer) == SECTOR and footer.startswith(b"conectix"):
        return int(struct.unpack_from(">I", footer, 60)[0])
    return None


def _gce_archive(head: bytes) -> bool:
    try:
        data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SECTOR)
    except zlib.error:
        return False
    return data[:9] == b"disk.raw\0" and data[257:262] == b"ustar"


def _kind(path: Path, head: bytes, tail: bytes) -> Kind | None:
    vhd = _vhd_type(tail)
    marks: list[tuple[bool, Kind]] = [
        (head.startswith(b"QFI\xfb"), Kind.QCOW2),
        (head.startswith(b"KDMV") or head.startswith(b"# Disk DescriptorFile"), Kind.VMDK),
        (vhd == 2, Kind.VHD),
        (vhd in (3, 4) or head.startswith(b"conectix"), Kind.DYNAMIC_VHD),
        (head.startswith(b"\x1f\x8b") and _gce_archive(head), Kind.GCE_TAR),
        (head[32769:32774] == b"CD001", Kind.ISO),
        (path.name.endswith(KERNEL_SUFFIX) and kernel_arch_of(head) is not None, Kind.KERNEL),
        (head[510:512] == b"\x55\xaa" or head[512:520] == b"EFI PART", Kind.RAW),
    ]
    return next((kind for matched, kind in marks if matched), None)


def kernel_arch_of(head: bytes) -> Arch | None:
    """The architecture of a Linux kernel from its first bytes: an x86 bzImage has ``HdrS`` at
    0x202, an arm64 ``Image`` has ``ARM\\x64`` at 0x38; None for anything else."""
    if head[0x202:0x206] == b"HdrS":
        return Arch.AMD64
    if head[0x38:0x3C] == b"ARM\x64":
        return Arch.ARM64
    return None


def kernel_arch(path: Path) -> Arch | None:
    """:func:`kernel_arch_of` a kernel file (None when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return kernel_arch_of(fh.read(0x210))
    except OSError:
        return None


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if not sample or b"\0" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def kernel_prefix(value: str | Path) -> Path | None:
    """``NAME`` when ``NAME-kernel`` exists (a kernel+initrd build named by its prefix)."""
    text = str(value)
    prefix = text[: -len(KERNEL_SUFFIX)] if text.endswith(KERNEL_SUFFIX) else text
    return Path(prefix) if Path(prefix + KERNEL_SUFFIX).is_file() else None


def sniff(path: Path) -> Kind:
    """The kind of image ``path`` holds; UsageError (one line) when it is none of them."""
    if path.name.endswith(YAML_SUFFIXES):
        return Kind.CONFIG
    if not path.exists() and kernel_prefix(path) is not None:
        return Kind.KERNEL
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    head, tail, size = _read(path)
    if size == 0:
        raise UsageError(f"{path}: the file is empty, not an image")
    found = _kind(path, head, tail)
    if found is None:
        what = "it looks like text" if _looks_like_text(head) else "no disk, ISO, qcow2, VHD or VMDK marks"
        raise UsageError(f"{path}: not an image file ({what})")
    return found


def expect(path: Path, accepted: tuple[Kind, ...], command: str) -> Kind:
    """:func:`sniff`, refusing a kind ``command`` cannot use, with what it takes instead."""
    found = sniff(path)
    if found not in accepted:
        takes = ", ".join(DESCRIPTIONS[kind] for kind in accepted)
        raise UsageError(f"{path}: {DESCRIPTIONS[found]}; {command} takes {takes}",
                         hint="lkcloud build -f FORMAT writes the format a provider wants")
    return found


def boot_mode(path: Path) -> BootMode | None:
    """How a raw disk (or fixed VHD) boots, from its partition table: GPT with BIOS boot code in
    the protective MBR is hybrid, GPT alone UEFI, an MBR alone BIOS; None when unknown."""
    try:
        with path.open("rb") as fh:
            first = fh.read(2 * SECTOR)
    except OSError:
        return None
    if first[510:512] != b"\x55\xaa":
        return None
    gpt = first[512:520] == b"EFI PART"
    boot_code = any(first[:440])
    if gpt:
        return BootMode.HYBRID if boot_code else BootMode.UEFI
    return BootMode.BIOS if boot_code else None
