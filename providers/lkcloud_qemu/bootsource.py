"""What ``lkcloud run qemu IMAGE`` boots: kernel+initrd by NAME prefix, a disk image, or an ISO.

As in LinuxKit, IMAGE is either a file (a raw/qcow2/vhd/vmdk disk, or an ISO) or the NAME
prefix of ``NAME-kernel``, ``NAME-initrd.img`` and ``NAME-cmdline`` (direct kernel boot). A
prefix also finds the other outputs of ``lkcloud build`` (``NAME.iso``, ``NAME-efi.img``, ...).
Disks boot with SeaBIOS or OVMF by their boot mode: the ``--boot`` flag, else ``-efi`` in the
file name, else a GPT with an EFI system partition and no BIOS boot code, else BIOS (arm64
images boot by UEFI only). A kernel says its architecture (x86 bzImage or arm64 Image).
"""

from __future__ import annotations

import json
import struct
import tempfile
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lkcloud.diskfile import kernel_arch
from lkcloud.errors import ToolFailedError, UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.process import run


class SourceKind(StrEnum):
    KERNEL = "kernel"
    DISK = "disk"
    ISO = "iso"


@dataclass(frozen=True)
class BootSource:
    """A resolved IMAGE: ``path`` is the disk or ISO, or the kernel for a direct boot."""

    kind: SourceKind
    path: Path
    boot_mode: BootMode = BootMode.BIOS
    disk_format: str = "raw"  # qemu's name for the format (raw, qcow2, vpc, vmdk)
    initrd: Path | None = None
    cmdline: str = ""
    arch: Arch | None = None  # what the image says it is for (a kernel's header), if anything

    @property
    def name(self) -> str:
        """A short name for the VM: the file name without suffixes, or the NAME prefix."""
        stem = self.path.name
        if self.kind is SourceKind.KERNEL:
            return stem.removesuffix("-kernel")
        return stem.split(".")[0]


# File suffix -> (kind, qemu format). Anything else is probed with qemu-img.
SUFFIXES: dict[str, tuple[SourceKind, str]] = {
    ".iso": (SourceKind.ISO, "raw"),
    ".qcow2": (SourceKind.DISK, "qcow2"),
    ".vhd": (SourceKind.DISK, "vpc"),
    ".vhdx": (SourceKind.DISK, "vhdx"),
    ".vmdk": (SourceKind.DISK, "vmdk"),
    ".raw": (SourceKind.DISK, "raw"),
    ".img": (SourceKind.DISK, "raw"),
}
# What a NAME prefix may be followed by, in the order tried after -kernel.
PREFIX_SUFFIXES = (".iso", "-efi.iso", "-bios.img", "-efi.img", ".qcow2", "-efi.qcow2", ".raw", ".vhd", ".vmdk")
UNSUPPORTED = {".gz": "a GCP image tarball; unpack disk.raw from it and run that"}

SECTOR = 512
HEAD_SECTORS = 34  # MBR, GPT header and 128 partition entries
ESP_TYPE = uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").bytes_le
MBR_BOOT_CODE = 440


def probe_format(path: Path) -> str:
    """qemu's name for the format of a disk image (``qemu-img info``)."""
    info = json.loads(run(["qemu-img", "info", "--output=json", path]).text)
    return str(info.get("format", "raw"))


def check_self_contained(path: Path, disk_format: str) -> None:
    """Refuse a disk image that makes QEMU open other files: a backing file, a qcow2 external data
    file, or VMDK extents outside the image. Such an image would hand the guest a host file
    (read-write for an extent), whatever its name says."""
    if disk_format == "raw":
        return
    try:
        info = json.loads(run(["qemu-img", "info", "--output=json", "-f", disk_format, path], timeout=60).text)
    except (ToolFailedError, ValueError) as exc:
        raise UsageError(f"{path}: cannot inspect the {disk_format} image: {exc}") from exc
    outside = []
    if info.get("backing-filename"):
        outside.append(f"backing file {info['backing-filename']}")
    data = (info.get("format-specific") or {}).get("data") or {}
    if data.get("data-file"):
        outside.append(f"data file {data['data-file']}")
    for extent in data.get("extents") or ():
        name = str(extent.get("filename") or "")
        if name and (path.parent / name).resolve() != path.resolve():
            outside.append(f"extent {name}")
    if outside:
        raise UsageError(f"{path}: the image refers to other files ({', '.join(outside)}): refused",
                         hint=f"make a self-contained copy: qemu-img convert -O qcow2 {path.name} copy.qcow2")


def read_head(path: Path, disk_format: str) -> bytes:
    """The first sectors of the disk as the guest sees them (through qemu-img for non-raw)."""
    if disk_format == "raw":
        with path.open("rb") as fh:
            return fh.read(HEAD_SECTORS * SECTOR)
    with tempfile.TemporaryDirectory(prefix="lkcloud-head-") as tmp:
        out = Path(tmp) / "head.raw"
        run(["qemu-img", "dd", "-f", disk_format, "-O", "raw", f"bs={SECTOR}", f"count={HEAD_SECTORS}",
             f"if={path}", f"of={out}"])
        return out.read_bytes()


def _has_esp(head: bytes) -> bool:
    if head[SECTOR:SECTOR + 8] != b"EFI PART":
        return False
    entries_lba, count, size = struct.unpack_from("<QII", head, SECTOR + 72)
    start = entries_lba * SECTOR
    for index in range(count):
        entry = head[start + index * size:start + index * size + 16]
        if len(entry) < 16:
            break
        if entry == ESP_TYPE:
            return True
    return False


def boot_mode_of_head(head: bytes) -> BootMode:
    """UEFI for a GPT disk with an EFI system partition and no BIOS boot code, else BIOS.

    A hybrid disk (GPT + ESP + syslinux's gptmbr.bin) boots faster with SeaBIOS, so it is BIOS.
    """
    bios_code = any(head[:MBR_BOOT_CODE])
    return BootMode.UEFI if _has_esp(head) and not bios_code else BootMode.BIOS


def guess_boot_mode(path: Path, kind: SourceKind, disk_format: str) -> BootMode:
    if "-efi" in path.name:
        return BootMode.UEFI
    if kind is SourceKind.DISK:
        return boot_mode_of_head(read_head(path, disk_format))
    return BootMode.BIOS


def _file_source(path: Path, boot: BootMode | None) -> BootSource:
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED:
        raise UsageError(f"{path}: cannot boot {UNSUPPORTED[suffix]}")
    kind, disk_format = SUFFIXES.get(suffix) or (SourceKind.DISK, probe_format(path))
    check_self_contained(path, disk_format)
    mode = boot or guess_boot_mode(path, kind, disk_format)
    if mode is BootMode.HYBRID:
        mode = BootMode.BIOS
    return BootSource(kind, path, boot_mode=mode, disk_format=disk_format)


def _kernel_source(prefix: str) -> BootSource:
    kernel, initrd, cmdline = (Path(f"{prefix}{end}") for end in ("-kernel", "-initrd.img", "-cmdline"))
    if not kernel.is_file():
        raise UsageError(f"{kernel}: kernel file is missing (found {initrd.name})",
                         hint="rebuild with 'lkcloud build -f kernel+initrd'")
    if not initrd.is_file():
        raise UsageError(f"{initrd}: initrd file is missing (found {kernel.name})",
                         hint="rebuild with 'lkcloud build -f kernel+initrd'")
    text = cmdline.read_text().strip() if cmdline.is_file() else ""
    return BootSource(SourceKind.KERNEL, kernel, initrd=initrd, cmdline=text, arch=kernel_arch(kernel))


def resolve(image: str, boot: BootMode | None = None) -> BootSource:
    """Resolve IMAGE (a file or a NAME prefix) to what QEMU boots; errors name what was tried.

    Paths come back absolute, so a recorded command line works from any directory."""
    path = Path(image).absolute()
    image = str(path)
    if path.is_file():
        return _file_source(path, boot)
    if Path(f"{image}-kernel").is_file() or Path(f"{image}-initrd.img").is_file():
        return _kernel_source(image)
    for end in PREFIX_SUFFIXES:
        candidate = Path(f"{image}{end}")
        if candidate.is_file():
            return _file_source(candidate, boot)
    raise UsageError(
        f"{image}: no such image file, and no {image}-kernel",
        hint="give a disk image (.img, .raw, .qcow2, .vhd, .vmdk), an .iso, or the NAME prefix of "
        "NAME-kernel + NAME-initrd.img",
    )
