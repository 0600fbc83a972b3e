"""Disk image formats for every cloud, written without root or Docker.

``raw-efi``, ``raw-bios`` and ``raw`` (one GPT disk that boots both ways) are written directly;
``aws``, ``gcp`` and ``vhd`` are the dual-boot disk as each cloud takes it; ``qcow2-*``, ``vmdk``
and ``dynamic-vhd`` are qemu-img conversions; ``iso-*`` is one hybrid ISO.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lkcloud.formats import BuildInputs, Format, bootloader, convert, gcp, iso, raw, vhd
from lkcloud.formats.ids import GIB, MIB
from lkcloud.formats.raw import DiskKind
from lkcloud.fsutil import atomic_path
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter

Writer = Callable[[BuildInputs, Reporter], list[Path]]


def _output(inputs: BuildInputs, suffix: str, reporter: Reporter) -> Path:
    target = inputs.outdir / f"{inputs.name}{suffix}"
    reporter.step(f"writing {target.name}")
    return target


def source_disk(inputs: BuildInputs, kind: DiskKind, multiple: int = MIB) -> raw.Disk:
    """A disk in the work directory to convert from; made once per content, kind and size."""
    size = raw.requested_size(inputs, multiple)
    ident = raw.content_id(inputs, kind, size)
    path = inputs.workdir / "disks" / f"{kind}-{ident.digest[:16]}.raw"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        try:
            raw.write_disk(inputs, kind, partial, size)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
    return raw.Disk(path, kind, size, ident)


def raw_disk(kind: DiskKind, suffix: str) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        target = _output(inputs, suffix, reporter)
        size = raw.requested_size(inputs)
        with atomic_path(target) as tmp:
            raw.write_disk(inputs, kind, tmp, size)
        return [target]

    return write


def write_fixed_vhd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    """Azure's fixed VHD: the dual-boot disk (whole MiB) plus a footer, still sparse."""
    target = _output(inputs, ".vhd", reporter)
    size = raw.requested_size(inputs)
    with atomic_path(target) as tmp:
        disk = raw.write_disk(inputs, DiskKind.HYBRID, tmp, size)
        footer = vhd.Footer(size, vhd.timestamp(inputs.source_date_epoch), disk.ident.guid("vhd"))
        with tmp.open("r+b") as fh:
            fh.seek(size)
            fh.write(vhd.footer_bytes(footer))
    return [target]


def write_gcp(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    """GCE's disk.raw (whole GiB) in a sparse GNU tar, gzipped on every core."""
    target = _output(inputs, ".img.tar.gz", reporter)
    disk = source_disk(inputs, DiskKind.HYBRID, GIB)
    with atomic_path(target) as tmp, tmp.open("wb") as out:
        gcp.write_tar_gz(disk.path, out, inputs.source_date_epoch)
    return [target]


def converted(kind: DiskKind, suffix: str, how: Callable[[raw.Disk, Path, BuildInputs], None]) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        target = _output(inputs, suffix, reporter)
        disk = source_disk(inputs, kind)
        with atomic_path(target) as tmp:
            how(disk, tmp, inputs)
        return [target]

    return write


def _qcow2(disk: raw.Disk, target: Path, inputs: BuildInputs) -> None:
    convert.to_qcow2(disk.path, target)


def _vmdk(disk: raw.Disk, target: Path, inputs: BuildInputs) -> None:
    convert.to_vmdk(disk.path, target, disk.ident.u32("vmdk-cid"))


def _dynamic_vhd(disk: raw.Disk, target: Path, inputs: BuildInputs) -> None:
    stamp = vhd.timestamp(inputs.source_date_epoch)
    convert.to_dynamic_vhd(disk.path, target, stamp, disk.ident.guid("vhd"))


def iso_image(suffix: str) -> Writer:
    def write(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
        target = _output(inputs, suffix, reporter)
        bootloader.require(*iso.boot_files(inputs.arch))
        ident = raw.content_id(inputs, "iso", 0)
        uki = raw.stage_uki(inputs)
        with atomic_path(target) as tmp:
            iso.write_iso(inputs, tmp, uki, ident)
        return [target]

    return write


def _fmt(name: str, suffix: str, write: Writer, mode: BootMode, help: str) -> Format:
    return Format(name, lambda base: (f"{base}{suffix}",), write, boot_mode=mode, help=help)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        _fmt(
            "raw-efi",
            "-efi.img",
            raw_disk(DiskKind.EFI, "-efi.img"),
            BootMode.UEFI,
            "GPT disk, FAT32 ESP holding a UKI",
        ),
        _fmt(
            "raw-bios",
            "-bios.img",
            raw_disk(DiskKind.BIOS, "-bios.img"),
            BootMode.BIOS,
            "MBR disk, FAT32 partition with syslinux",
        ),
        _fmt(
            "raw",
            ".img",
            raw_disk(DiskKind.HYBRID, ".img"),
            BootMode.HYBRID,
            "GPT disk that boots with BIOS (syslinux) and UEFI (UKI)",
        ),
        _fmt("aws", ".raw", raw_disk(DiskKind.HYBRID, ".raw"), BootMode.HYBRID, "raw dual-boot disk for EBS snapshots"),
        _fmt("gcp", ".img.tar.gz", write_gcp, BootMode.HYBRID, "GCE image: sparse disk.raw in a .tar.gz"),
        _fmt("vhd", ".vhd", write_fixed_vhd, BootMode.HYBRID, "Azure fixed VHD (Gen1 and Gen2)"),
        _fmt(
            "dynamic-vhd",
            ".vhd",
            converted(DiskKind.HYBRID, ".vhd", _dynamic_vhd),
            BootMode.HYBRID,
            "dynamic VHD (Hyper-V)",
        ),
        _fmt(
            "qcow2-bios", ".qcow2", converted(DiskKind.BIOS, ".qcow2", _qcow2), BootMode.BIOS, "qcow2 of the BIOS disk"
        ),
        _fmt(
            "qcow2-efi",
            "-efi.qcow2",
            converted(DiskKind.EFI, "-efi.qcow2", _qcow2),
            BootMode.UEFI,
            "qcow2 of the EFI disk",
        ),
        _fmt(
            "vmdk",
            ".vmdk",
            converted(DiskKind.HYBRID, ".vmdk", _vmdk),
            BootMode.HYBRID,
            "streamOptimized VMDK (lsilogic) of the dual-boot disk",
        ),
        _fmt("iso-bios", ".iso", iso_image(".iso"), BootMode.HYBRID, "hybrid ISO (isolinux + EFI)"),
        _fmt("iso-efi", "-efi.iso", iso_image("-efi.iso"), BootMode.HYBRID, "hybrid ISO (isolinux + EFI)"),
    )
}
