"""From options to a ready :class:`Machine`: resolve the image, pick the accelerator, claim the
state directory, create missing disks, write the metadata CD, and choose free host ports."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode, host_arch
from lkcloud.process import run
from lkcloud_qemu import accel, bootsource, cidata, state
from lkcloud_qemu.bootsource import BootSource, SourceKind
from lkcloud_qemu.machine import AAVMF, OVMF, Disk, Forward, Machine


@dataclass(frozen=True)
class VmOptions:
    """What a person asks for; ``forwards`` with host port 0 get a free port."""

    image: str
    name: str | None = None
    state_dir: Path | None = None
    mem: int = 1024
    cpus: int = 1
    accel: str = "auto"
    boot: BootMode | None = None
    disks: tuple[Disk, ...] = ()
    forwards: tuple[Forward, ...] = ()
    user_data: bytes | None = None
    cmdline: str = ""
    ovmf: Path = OVMF
    arch: Arch | None = None  # None: what the image says, else this machine's
    aavmf: Path = AAVMF


@dataclass(frozen=True)
class Prepared:
    machine: Machine
    state_dir: Path
    image: str


NEW_DISK_FORMAT = "qcow2"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _disk_format(disk: Disk) -> str:
    if disk.format:
        return disk.format
    known = bootsource.SUFFIXES.get(disk.path.suffix.lower())
    if disk.path.exists():
        return known[1] if known else bootsource.probe_format(disk.path)
    return known[1] if known else NEW_DISK_FORMAT


def ensure_disk(disk: Disk) -> Disk:
    """The disk with its format known; created (sparse) when missing and a size is given."""
    fmt = _disk_format(disk)
    if not disk.path.exists():
        if disk.size is None:
            raise UsageError(f"--disk {disk.path}: no such file", hint=f"give a size to create it: {disk.path},size=4G")
        disk.path.parent.mkdir(parents=True, exist_ok=True)
        run(["qemu-img", "create", "-q", "-f", fmt, disk.path, disk.size])
    bootsource.check_self_contained(disk.path, fmt)
    return Disk(disk.path.resolve(), disk.size, fmt)


def _check_sizes(options: VmOptions) -> None:
    if options.mem < 64:
        raise UsageError(f"--mem {options.mem}: too little memory (MiB); give at least 64")
    if options.cpus < 1:
        raise UsageError(f"--cpus {options.cpus}: give at least 1")


def asked_arch(arch: Arch) -> Arch | None:
    """The architecture a request (``--arch``, whose default is this machine's) asks for; None
    for this machine's, which the image's own word overrides: an arm64 kernel boots as arm64."""
    return None if arch is host_arch() else arch


def guest_arch(source: BootSource, wanted: Arch | None, boot: BootMode | None = None) -> tuple[Arch, BootSource]:
    """The guest's architecture (the image's own word, else ``wanted``, else this machine's) and
    the source as it boots there: disks and ISOs of arm64 boot by UEFI only."""
    if source.arch is not None and wanted is not None and source.arch is not wanted:
        raise UsageError(f"{source.path}: an {source.arch} kernel, not {wanted}",
                         hint=f"drop --arch, or build the image with --arch {wanted}")
    arch = source.arch or wanted or host_arch()
    if arch is Arch.ARM64 and source.kind is not SourceKind.KERNEL:
        if boot is BootMode.BIOS:
            raise UsageError(f"--boot bios: {source.path.name} is for arm64, which boots by UEFI only")
        source = replace(source, boot_mode=BootMode.UEFI)
    return arch, source


def prepare(options: VmOptions, state_root: Path, *, console: bool = True) -> Prepared:
    """Everything up to starting QEMU. ``console`` False puts the serial console on stdio."""
    _check_sizes(options)
    arch, source = guest_arch(bootsource.resolve(options.image, options.boot), options.arch, options.boot)
    name = options.name or source.name
    chosen = accel.choose_for(arch, options.accel)
    state_dir = state.claim((options.state_dir or state_root / name).resolve())
    disks = tuple(ensure_disk(disk) for disk in options.disks)
    forwards = tuple(replace(f, host=f.host or free_port()) for f in options.forwards)
    iso = None
    if options.user_data is not None:
        iso = cidata.write_iso(options.user_data, state_dir / state.CIDATA)
    machine = Machine(
        source=source, name=name, accel=chosen, mem=options.mem, cpus=options.cpus, disks=disks,
        forwards=forwards, cidata=iso, cmdline=options.cmdline,
        console=state_dir / state.CONSOLE if console else None, ovmf=options.ovmf, arch=arch, aavmf=options.aavmf,
    )
    return Prepared(machine, state_dir, str(source.path.resolve()))
