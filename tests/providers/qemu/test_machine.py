"""The QEMU command line for each kind of image, and the --publish/--disk syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud_qemu.accel import Accel
from lkcloud_qemu.bootsource import BootSource, SourceKind
from lkcloud_qemu.machine import Disk, Forward, Machine, argv, parse_disk, parse_publish


def _kernel(cmdline: str = "console=ttyS0 quiet") -> BootSource:
    return BootSource(SourceKind.KERNEL, Path("/i/hello-kernel"), initrd=Path("/i/hello-initrd.img"), cmdline=cmdline)


def _after(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_kernel_boot(tmp_path: Path) -> None:
    machine = Machine(_kernel(), "hello", Accel.TCG, mem=2048, cpus=2, cmdline="panic=-1",
                      forwards=(Forward(8080, 80), Forward(5353, 53, "udp")), console=tmp_path / "console.log")
    args = argv(machine)
    assert args[0] == "qemu-system-x86_64"
    assert _after(args, "-accel") == ["tcg"] and "-cpu" not in args
    assert _after(args, "-m") == ["2048"] and _after(args, "-smp") == ["2"] and "-no-reboot" in args
    assert _after(args, "-kernel") == ["/i/hello-kernel"] and _after(args, "-initrd") == ["/i/hello-initrd.img"]
    assert _after(args, "-append") == ["console=ttyS0 quiet panic=-1"]
    assert _after(args, "-nic") == ["user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:8080-:80,"
                                    "hostfwd=udp:127.0.0.1:5353-:53"]
    assert _after(args, "-serial") == ["chardev:console"] and "-nographic" not in args
    assert "-bios" not in args


def test_console_on_stdio_and_serial_console_added() -> None:
    args = argv(Machine(_kernel(cmdline=""), "hello", Accel.KVM))
    assert "-nographic" in args and _after(args, "-cpu") == ["host"]
    assert _after(args, "-append") == ["console=ttyS0"]


def test_uefi_disk_uses_ovmf(tmp_path: Path) -> None:
    ovmf = tmp_path / "OVMF.fd"
    ovmf.write_bytes(b"fw")
    source = BootSource(SourceKind.DISK, Path("/i/a,b-efi.qcow2"), boot_mode=BootMode.UEFI, disk_format="qcow2")
    args = argv(Machine(source, "a", Accel.TCG, ovmf=ovmf))
    assert _after(args, "-bios") == [str(ovmf)]
    assert "file=/i/a,,b-efi.qcow2,format=qcow2,if=virtio,index=0" in _after(args, "-drive")
    assert "-kernel" not in args


def test_uefi_without_ovmf_says_what_to_install(tmp_path: Path) -> None:
    source = BootSource(SourceKind.DISK, Path("/i/a.img"), boot_mode=BootMode.UEFI)
    with pytest.raises(UsageError, match="OVMF firmware is missing") as info:
        argv(Machine(source, "a", Accel.TCG, ovmf=tmp_path / "missing.fd"))
    assert info.value.hint and "apt-get install ovmf" in info.value.hint


def test_bios_disk_iso_and_metadata_cd() -> None:
    disk = BootSource(SourceKind.DISK, Path("/i/a.img"))
    args = argv(Machine(disk, "a", Accel.TCG, disks=(Disk(Path("/d/data.qcow2"), format="qcow2"),),
                        cidata=Path("/s/cidata.iso")))
    drives = _after(args, "-drive")
    assert "-bios" not in args
    assert drives[1] == "file=/d/data.qcow2,format=qcow2,if=virtio"
    assert drives[2] == "file=/s/cidata.iso,format=raw,media=cdrom,readonly=on,if=ide,index=2"
    iso = BootSource(SourceKind.ISO, Path("/i/a.iso"))
    args = argv(Machine(iso, "a", Accel.TCG, cidata=Path("/s/cidata.iso")))
    drives = _after(args, "-drive")
    assert drives[0].endswith("media=cdrom,readonly=on,if=ide,index=2") and _after(args, "-boot") == ["d"]
    assert drives[1].endswith("if=ide,index=3")  # the boot ISO stays /dev/sr0


def test_unassigned_port_is_a_bug() -> None:
    with pytest.raises(ValueError, match="free port"):
        argv(Machine(_kernel(), "a", Accel.TCG, forwards=(Forward(0, 80),)))


@pytest.mark.parametrize(
    ("spec", "forward"),
    [("8080:80", Forward(8080, 80)), ("80", Forward(0, 80)), ("5353:53/udp", Forward(5353, 53, "udp"))],
)
def test_parse_publish(spec: str, forward: Forward) -> None:
    assert parse_publish(spec) == forward


@pytest.mark.parametrize("spec", ["", "a:b", "1:2:3", "8080:0", "99999:80", "80/sctp"])
def test_parse_publish_rejects(spec: str) -> None:
    with pytest.raises(UsageError, match="--publish"):
        parse_publish(spec)


def test_parse_disk() -> None:
    assert parse_disk("data.qcow2") == Disk(Path("data.qcow2"))
    assert parse_disk("data.img,size=4G,format=raw") == Disk(Path("data.img"), "4G", "raw")
    assert parse_disk("file=x.qcow2,size=1G") == Disk(Path("x.qcow2"), "1G")
    with pytest.raises(UsageError, match="unknown option 'bus'"):
        parse_disk("x.img,bus=scsi")
    with pytest.raises(UsageError, match="no file given"):
        parse_disk("size=1G")
