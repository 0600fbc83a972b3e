"""A VM's description and the QEMU command line for it (no processes started here).

One board per guest architecture: a ``pc`` for amd64 (SeaBIOS, or OVMF for UEFI images) and a
``virt`` machine for arm64 (AAVMF, Debian's qemu-efi-aarch64, for UEFI images; direct kernel
boot with its device tree). Under TCG arm64 runs a Cortex-A57: ``-cpu max`` emulates pointer
authentication, which makes a boot several times slower.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud_qemu.accel import Accel
from lkcloud_qemu.bootsource import BootSource, SourceKind

QEMU = "qemu-system-x86_64"
OVMF = Path("/usr/share/ovmf/OVMF.fd")
AAVMF = Path("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd")
LOOPBACK = "127.0.0.1"
# IDE index 2 is QEMU's default CD drive (-cdrom): the boot ISO, so it is /dev/sr0; the metadata
# CD takes it when there is no boot ISO (an empty default drive would be sr0), else index 3.
CDROM_IDE_INDEX = 2
SCSI = "scsi0"  # arm64's virt machine has no IDE: CDs hang off a virtio-scsi controller


@dataclass(frozen=True)
class Board:
    """What QEMU emulates for one guest architecture."""

    qemu: str
    machine: str
    tcg_cpu: str | None  # None: QEMU's default model
    serial: str  # the kernel's name of the first serial port
    firmware: str  # what UEFI firmware is called, and its Debian package
    package: str
    ide: bool  # CDs on IDE (else virtio-scsi)


BOARDS: dict[Arch, Board] = {
    Arch.AMD64: Board("qemu-system-x86_64", "pc", None, "ttyS0", "OVMF", "ovmf", ide=True),
    Arch.ARM64: Board("qemu-system-aarch64", "virt", "cortex-a57", "ttyAMA0", "AAVMF", "qemu-efi-aarch64", ide=False),
}


@dataclass(frozen=True)
class Disk:
    """An extra disk: created with ``size`` (qemu-img syntax, e.g. ``4G``) when missing."""

    path: Path
    size: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class Forward:
    """A user-networking port forward: 127.0.0.1:host -> guest:guest (host 0 = any free port)."""

    host: int
    guest: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Machine:
    """Everything one QEMU invocation needs. ``console`` None means the serial console on stdio."""

    source: BootSource
    name: str
    accel: Accel
    mem: int = 1024
    cpus: int = 1
    disks: tuple[Disk, ...] = ()
    forwards: tuple[Forward, ...] = ()
    cidata: Path | None = None
    cmdline: str = ""  # appended to the image's own cmdline
    console: Path | None = None
    ovmf: Path = OVMF
    arch: Arch = Arch.AMD64
    aavmf: Path = AAVMF

    @property
    def board(self) -> Board:
        return BOARDS[self.arch]

    @property
    def firmware(self) -> Path:
        return self.aavmf if self.arch is Arch.ARM64 else self.ovmf


def qemu_value(value: str | Path) -> str:
    """A value inside a QEMU ``key=value,...`` option: commas are doubled."""
    return str(value).replace(",", ",,")


def kernel_cmdline(machine: Machine) -> str:
    """The image's cmdline plus ``--cmdline``, with the board's serial port as a console: x86's
    ``ttyS0`` when no console is named; arm64's ``ttyAMA0`` last (the console /dev/console is)
    unless named, since images name x86's ``ttyS0``, which the virt machine does not have."""
    cmdline = " ".join(part for part in (machine.source.cmdline, machine.cmdline) if part)
    serial = machine.board.serial
    if machine.arch is Arch.AMD64:
        return cmdline if "console=" in cmdline else f"console={serial} {cmdline}".strip()
    named = re.search(rf"(^|\s)console={serial}(,|\s|$)", cmdline)
    return cmdline if named else f"{cmdline} console={serial}".strip()


def _kernel_boot(machine: Machine) -> list[str]:
    source = machine.source
    assert source.initrd is not None
    return ["-kernel", str(source.path), "-initrd", str(source.initrd), "-append", kernel_cmdline(machine)]


def _disk_boot(machine: Machine) -> list[str]:
    source = machine.source
    return ["-drive", f"file={qemu_value(source.path)},format={source.disk_format},if=virtio,index=0"]


def _cdrom(machine: Machine, path: Path, index: int) -> list[str]:
    """A read-only CD: on IDE (x86, ``index`` 2 is sr0) or on the virtio-scsi bus (arm64)."""
    drive = f"file={qemu_value(path)},format=raw,media=cdrom,readonly=on"
    if machine.board.ide:
        return ["-drive", f"{drive},if=ide,index={index}"]
    ident = f"cd{index}"
    return ["-drive", f"{drive},if=none,id={ident}", "-device", f"scsi-cd,drive={ident},bus={SCSI}.0"]


def _iso_boot(machine: Machine) -> list[str]:
    return [*_cdrom(machine, machine.source.path, CDROM_IDE_INDEX), "-boot", "d"]


BOOTS: dict[SourceKind, Callable[[Machine], list[str]]] = {
    SourceKind.KERNEL: _kernel_boot,
    SourceKind.DISK: _disk_boot,
    SourceKind.ISO: _iso_boot,
}


def _firmware(machine: Machine) -> list[str]:
    if machine.source.kind is SourceKind.KERNEL or machine.source.boot_mode is not BootMode.UEFI:
        return []
    board, firmware = machine.board, machine.firmware
    if not firmware.is_file():
        other = ", or use --boot bios" if machine.arch is Arch.AMD64 else ""
        needed = f"needed to boot {machine.source.path.name}"
        raise UsageError(f"{firmware}: {board.firmware} firmware is missing ({needed})",
                         hint=f"install it with: apt-get install {board.package}{other}")
    return ["-bios", str(firmware)]


def _accel(machine: Machine) -> list[str]:
    # TCG keeps QEMU's default x86 CPU model, the one the boot timings in REFERENCE were taken with.
    cpu = "host" if machine.accel is Accel.KVM else machine.board.tcg_cpu
    return ["-accel", machine.accel.value, *(["-cpu", cpu] if cpu else [])]


def _disks(machine: Machine) -> list[str]:
    argv: list[str] = []
    for disk in machine.disks:
        fmt = disk.format or "raw"
        argv += ["-drive", f"file={qemu_value(disk.path)},format={fmt},if=virtio"]
    if machine.cidata is not None:
        argv += _cdrom(machine, machine.cidata, CDROM_IDE_INDEX + (machine.source.kind is SourceKind.ISO))
    return argv


def _controllers(machine: Machine) -> list[str]:
    """The virtio-scsi controller arm64's CDs hang off (before the devices that name its bus)."""
    cds = machine.cidata is not None or machine.source.kind is SourceKind.ISO
    return ["-device", f"virtio-scsi-pci,id={SCSI}"] if cds and not machine.board.ide else []


def _network(machine: Machine) -> list[str]:
    nic = "user,model=virtio-net-pci"
    for fwd in machine.forwards:
        if fwd.host == 0:
            raise ValueError("host port 0 must be replaced by a free port before building argv")
        nic += f",hostfwd={fwd.protocol}:{LOOPBACK}:{fwd.host}-:{fwd.guest}"
    return ["-nic", nic]


def _console(machine: Machine) -> list[str]:
    if machine.console is None:
        return ["-nographic"]
    return ["-display", "none", "-monitor", "none",
            "-chardev", f"file,id=console,path={qemu_value(machine.console)}", "-serial", "chardev:console"]


def argv(machine: Machine, qemu: str | None = None) -> list[str]:
    """The full QEMU command line (``qemu`` defaults to the board's program); ``-no-reboot``
    makes a guest reboot or panic end the run."""
    return [
        qemu or machine.board.qemu, "-name", qemu_value(f"lkcloud-{machine.name}"), "-machine", machine.board.machine,
        *_accel(machine), "-m", str(machine.mem), "-smp", str(machine.cpus), "-no-reboot",
        *_firmware(machine), *_controllers(machine), *BOOTS[machine.source.kind](machine), *_disks(machine),
        *_network(machine), *_console(machine),
    ]


_PUBLISH = re.compile(r"^(?:(\d+):)?(\d+)(?:/(tcp|udp))?$")


def parse_publish(spec: str) -> Forward:
    """``HOST:GUEST[/tcp|udp]`` or ``GUEST`` (any free host port), LinuxKit's ``--publish``."""
    match = _PUBLISH.match(spec.strip())
    if match is None:
        raise UsageError(f"--publish {spec!r}: expected HOST:GUEST, e.g. 8080:80")
    host, guest = int(match.group(1) or 0), int(match.group(2))
    if not (0 <= host <= 65535 and 0 < guest <= 65535):
        raise UsageError(f"--publish {spec!r}: ports must be between 1 and 65535")
    return Forward(host, guest, match.group(3) or "tcp")


def parse_disk(spec: str) -> Disk:
    """``PATH[,size=4G][,format=qcow2]`` (LinuxKit's ``--disk`` also accepts ``file=PATH``)."""
    parts = [p for p in spec.split(",") if p]
    path: str | None = None
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            path = part
        elif key in ("file", "size", "format"):
            options[key] = value
        else:
            raise UsageError(f"--disk {spec!r}: unknown option {key!r} (allowed: file, size, format)")
    path = options.pop("file", path)
    if not path:
        raise UsageError(f"--disk {spec!r}: no file given", hint="e.g. --disk data.qcow2,size=4G")
    return Disk(Path(path), options.get("size"), options.get("format"))
