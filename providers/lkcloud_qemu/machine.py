"""A VM's description and the QEMU command line for it (no processes started here)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud_qemu.accel import Accel
from lkcloud_qemu.bootsource import BootSource, SourceKind

QEMU = "qemu-system-x86_64"
OVMF = Path("/usr/share/ovmf/OVMF.fd")
LOOPBACK = "127.0.0.1"
# IDE index 2 is QEMU's default CD drive (-cdrom): the boot ISO, so it is /dev/sr0; the metadata
# CD takes it when there is no boot ISO (an empty default drive would be sr0), else index 3.
CDROM_IDE_INDEX = 2


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


def qemu_value(value: str | Path) -> str:
    """A value inside a QEMU ``key=value,...`` option: commas are doubled."""
    return str(value).replace(",", ",,")


def _kernel_boot(machine: Machine) -> list[str]:
    source = machine.source
    cmdline = " ".join(part for part in (source.cmdline, machine.cmdline) if part)
    if "console=" not in cmdline:
        cmdline = f"console=ttyS0 {cmdline}".strip()
    assert source.initrd is not None
    return ["-kernel", str(source.path), "-initrd", str(source.initrd), "-append", cmdline]


def _disk_boot(machine: Machine) -> list[str]:
    source = machine.source
    return ["-drive", f"file={qemu_value(source.path)},format={source.disk_format},if=virtio,index=0"]


def _iso_boot(machine: Machine) -> list[str]:
    return ["-drive", f"file={qemu_value(machine.source.path)},format=raw,media=cdrom,readonly=on,if=ide,"
            f"index={CDROM_IDE_INDEX}",
            "-boot", "d"]


BOOTS: dict[SourceKind, Callable[[Machine], list[str]]] = {
    SourceKind.KERNEL: _kernel_boot,
    SourceKind.DISK: _disk_boot,
    SourceKind.ISO: _iso_boot,
}


def _firmware(machine: Machine) -> list[str]:
    if machine.source.kind is SourceKind.KERNEL or machine.source.boot_mode is not BootMode.UEFI:
        return []
    if not machine.ovmf.is_file():
        raise UsageError(f"{machine.ovmf}: OVMF firmware is missing (needed to boot {machine.source.path.name})",
                         hint="install it with: apt-get install ovmf, or use --boot bios")
    return ["-bios", str(machine.ovmf)]


def _accel(machine: Machine) -> list[str]:
    # TCG keeps QEMU's default CPU model, the one the boot timings in REFERENCE were taken with.
    cpu = ["-cpu", "host"] if machine.accel is Accel.KVM else []
    return ["-accel", machine.accel.value, *cpu]


def _disks(machine: Machine) -> list[str]:
    argv: list[str] = []
    for disk in machine.disks:
        fmt = disk.format or "raw"
        argv += ["-drive", f"file={qemu_value(disk.path)},format={fmt},if=virtio"]
    if machine.cidata is not None:
        index = CDROM_IDE_INDEX + (machine.source.kind is SourceKind.ISO)
        argv += ["-drive", f"file={qemu_value(machine.cidata)},format=raw,media=cdrom,readonly=on,"
                 f"if=ide,index={index}"]
    return argv


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


def argv(machine: Machine, qemu: str = QEMU) -> list[str]:
    """The full QEMU command line; ``-no-reboot`` makes a guest reboot or panic end the run."""
    return [
        qemu, "-name", qemu_value(f"lkcloud-{machine.name}"), "-machine", "pc",
        *_accel(machine), "-m", str(machine.mem), "-smp", str(machine.cpus), "-no-reboot",
        *_firmware(machine), *BOOTS[machine.source.kind](machine), *_disks(machine),
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
