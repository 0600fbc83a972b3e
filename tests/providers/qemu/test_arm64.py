"""arm64 guests: the virt board's command line, the architecture read from the kernel, the
accelerator for a foreign guest, and fleets that keep their --arch. (Boots: tests/pkg/test_boot.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.provider.types import FleetSpec
from lkcloud_qemu import config
from lkcloud_qemu.accel import Accel, Host, choose_for
from lkcloud_qemu.bootsource import BootSource, SourceKind, resolve
from lkcloud_qemu.fleet.manager import Fleets
from lkcloud_qemu.machine import Machine, argv, kernel_cmdline
from lkcloud_qemu.vm import VmOptions, asked_arch, guest_arch, prepare

ARM64_IMAGE = {0x38: b"ARM\x64"}
BZIMAGE = {0x202: b"HdrS"}


def _after(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def _prefix(tmp_path: Path, marks: dict[int, bytes], cmdline: str = "console=ttyS0 panic=-1") -> str:
    data = bytearray(0x400)
    for offset, mark in marks.items():
        data[offset:offset + len(mark)] = mark
    (tmp_path / "hello-kernel").write_bytes(bytes(data))
    (tmp_path / "hello-initrd.img").write_bytes(b"i")
    (tmp_path / "hello-cmdline").write_text(cmdline + "\n")
    return str(tmp_path / "hello")


def _kernel(cmdline: str) -> BootSource:
    return BootSource(SourceKind.KERNEL, Path("/i/hello-kernel"), initrd=Path("/i/hello-initrd.img"),
                      cmdline=cmdline, arch=Arch.ARM64)


def test_arm64_kernel_boot_on_the_virt_board(tmp_path: Path) -> None:
    machine = Machine(_kernel("console=ttyS0 panic=-1"), "hello", Accel.TCG, arch=Arch.ARM64,
                      console=tmp_path / "console.log")
    args = argv(machine)
    assert args[0] == "qemu-system-aarch64"
    assert _after(args, "-machine") == ["virt"] and _after(args, "-cpu") == ["cortex-a57"]
    assert _after(args, "-append") == ["console=ttyS0 panic=-1 console=ttyAMA0"]
    assert "-bios" not in args and _after(args, "-nic") == ["user,model=virtio-net-pci"]
    assert _after(argv(Machine(_kernel(""), "h", Accel.KVM, arch=Arch.ARM64)), "-cpu") == ["host"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "console=ttyAMA0"),
        ("console=ttyAMA0,115200 quiet", "console=ttyAMA0,115200 quiet"),
        ("quiet console=ttyAMA0", "quiet console=ttyAMA0"),
        ("console=ttyAMA01", "console=ttyAMA01 console=ttyAMA0"),
        ("console=tty0", "console=tty0 console=ttyAMA0"),
    ],
)
def test_arm64_serial_console_is_added_once(given: str, expected: str) -> None:
    assert kernel_cmdline(Machine(_kernel(given), "h", Accel.TCG, arch=Arch.ARM64)) == expected


def test_arm64_uefi_disk_uses_aavmf(tmp_path: Path) -> None:
    aavmf = tmp_path / "QEMU_EFI.fd"
    aavmf.write_bytes(b"fw")
    disk = BootSource(SourceKind.DISK, Path("/i/hello-efi.img"), boot_mode=BootMode.UEFI)
    args = argv(Machine(disk, "a", Accel.TCG, arch=Arch.ARM64, aavmf=aavmf, ovmf=tmp_path / "absent"))
    assert _after(args, "-bios") == [str(aavmf)]
    assert _after(args, "-drive") == ["file=/i/hello-efi.img,format=raw,if=virtio,index=0"]
    with pytest.raises(UsageError, match="AAVMF firmware is missing") as info:
        argv(Machine(disk, "a", Accel.TCG, arch=Arch.ARM64, aavmf=tmp_path / "missing.fd"))
    assert info.value.hint == "install it with: apt-get install qemu-efi-aarch64"


def test_arm64_cds_hang_off_virtio_scsi(tmp_path: Path) -> None:
    iso = BootSource(SourceKind.ISO, Path("/i/hello-efi.iso"), boot_mode=BootMode.UEFI)
    args = argv(Machine(iso, "a", Accel.TCG, arch=Arch.ARM64, aavmf=Path("/bin/sh"), cidata=Path("/s/cidata.iso")))
    devices = _after(args, "-device")
    assert devices == ["virtio-scsi-pci,id=scsi0", "scsi-cd,drive=cd2,bus=scsi0.0", "scsi-cd,drive=cd3,bus=scsi0.0"]
    assert args.index("virtio-scsi-pci,id=scsi0") < args.index("scsi-cd,drive=cd2,bus=scsi0.0")
    assert _after(args, "-drive") == ["file=/i/hello-efi.iso,format=raw,media=cdrom,readonly=on,if=none,id=cd2",
                                      "file=/s/cidata.iso,format=raw,media=cdrom,readonly=on,if=none,id=cd3"]
    kernel = argv(Machine(_kernel(""), "a", Accel.TCG, arch=Arch.ARM64))
    assert "-device" not in kernel  # no CD, no controller


@pytest.mark.parametrize(("marks", "arch"), [(ARM64_IMAGE, Arch.ARM64), (BZIMAGE, Arch.AMD64), ({}, None)])
def test_the_kernel_says_its_architecture(tmp_path: Path, marks: dict[int, bytes], arch: Arch | None) -> None:
    assert resolve(_prefix(tmp_path, marks)).arch is arch


def test_guest_architecture_and_conflicts(tmp_path: Path) -> None:
    arm = resolve(_prefix(tmp_path, ARM64_IMAGE))
    assert guest_arch(arm, None)[0] is Arch.ARM64  # no --arch: the kernel's word
    assert guest_arch(arm, Arch.ARM64)[0] is Arch.ARM64
    with pytest.raises(UsageError) as info:
        guest_arch(arm, Arch.AMD64)
    assert info.value.message == f"{arm.path}: an arm64 kernel, not amd64"
    disk = BootSource(SourceKind.DISK, tmp_path / "x.img", boot_mode=BootMode.BIOS)
    arch, source = guest_arch(disk, Arch.ARM64)
    assert (arch, source.boot_mode) == (Arch.ARM64, BootMode.UEFI)  # arm64 disks boot by UEFI only
    with pytest.raises(UsageError, match=r"--boot bios: x\.img is for arm64, which boots by UEFI only"):
        guest_arch(disk, Arch.ARM64, BootMode.BIOS)
    assert guest_arch(disk, None)[0] is Arch.AMD64  # nothing said: this machine's
    assert asked_arch(Arch.AMD64) is None and asked_arch(Arch.ARM64) is Arch.ARM64


def test_prepare_an_arm64_vm(tmp_path: Path) -> None:
    prepared = prepare(VmOptions(image=_prefix(tmp_path, ARM64_IMAGE), accel="auto"), tmp_path / "state")
    assert prepared.machine.arch is Arch.ARM64 and prepared.machine.accel is Accel.TCG
    assert argv(prepared.machine)[0] == "qemu-system-aarch64"


def test_kvm_runs_only_this_machines_architecture(tmp_path: Path) -> None:
    dev, cpuinfo = tmp_path / "kvm", tmp_path / "cpuinfo"
    dev.write_bytes(b"")
    cpuinfo.write_text("flags\t: vmx\n")
    (tmp_path / "module").mkdir()
    kvm_host = Host(kvm_device=dev, cpuinfo=cpuinfo, modules=tmp_path / "module")
    assert choose_for(Arch.AMD64, "auto", kvm_host) is Accel.KVM
    assert choose_for(Arch.ARM64, "auto", kvm_host) is Accel.TCG
    with pytest.raises(UsageError, match="--accel kvm: KVM cannot run an arm64 guest on this amd64 machine"):
        choose_for(Arch.ARM64, "kvm", kvm_host)


def test_a_fleet_keeps_its_architecture(tmp_path: Path) -> None:
    cfg = config.QemuConfig(images=tmp_path / "images", state_root=tmp_path / "state", accel="tcg")
    fleets = Fleets(cfg)
    fleets.create(FleetSpec(name="arm", image="img", size=0, arch=Arch.ARM64), "img", FleetSpec("x", "y", 0).health)
    assert fleets.dir("arm").read().arch == "arm64"
    fleets.create(FleetSpec(name="here", image="img", size=0), "img", FleetSpec("x", "y", 0).health)
    assert fleets.dir("here").read().arch is None  # this machine's: each image's own word decides
