"""Resolving IMAGE: NAME prefixes, disk formats, ISOs, and the boot mode of a disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud.process import run
from lkcloud_qemu.bootsource import SourceKind, boot_mode_of_head, read_head, resolve


def _prefix(tmp_path: Path, *, kernel: bool = True, initrd: bool = True, cmdline: str | None = "console=ttyS0") -> str:
    prefix = tmp_path / "hello"
    if kernel:
        Path(f"{prefix}-kernel").write_bytes(b"k")
    if initrd:
        Path(f"{prefix}-initrd.img").write_bytes(b"i")
    if cmdline is not None:
        Path(f"{prefix}-cmdline").write_text(cmdline + "\n")
    return str(prefix)


def _gpt_disk(path: Path, *, esp: bool = True) -> Path:
    run(["truncate", "-s", "8M", path])
    run(["sgdisk", "-o", "-n", "1:2048:0", "-t", f"1:{'EF00' if esp else '8300'}", path])
    return path


def test_name_prefix_is_a_direct_kernel_boot(tmp_path: Path) -> None:
    source = resolve(_prefix(tmp_path))
    assert source.kind is SourceKind.KERNEL
    assert source.path == tmp_path / "hello-kernel" and source.initrd == tmp_path / "hello-initrd.img"
    assert source.cmdline == "console=ttyS0" and source.name == "hello"


def test_relative_prefix_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _prefix(tmp_path, cmdline=None)
    monkeypatch.chdir(tmp_path)
    source = resolve("hello")
    assert source.path.is_absolute() and source.cmdline == ""


@pytest.mark.parametrize(("kernel", "initrd", "missing"), [(False, True, "kernel"), (True, False, "initrd")])
def test_missing_kernel_or_initrd_is_named(tmp_path: Path, kernel: bool, initrd: bool, missing: str) -> None:
    with pytest.raises(UsageError, match=f"hello-{missing}.*{missing} file is missing"):
        resolve(_prefix(tmp_path, kernel=kernel, initrd=initrd))


def test_nothing_there(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no such image file, and no .*-kernel") as info:
        resolve(str(tmp_path / "nope"))
    assert info.value.hint and "NAME-kernel" in info.value.hint


@pytest.mark.parametrize(
    ("name", "kind", "fmt"),
    [("a.iso", SourceKind.ISO, "raw"), ("a.vhd", SourceKind.DISK, "vpc"), ("a.vmdk", SourceKind.DISK, "vmdk"),
     ("a-efi.qcow2", SourceKind.DISK, "qcow2")],
)
def test_suffix_table(tmp_path: Path, name: str, kind: SourceKind, fmt: str) -> None:
    if kind is SourceKind.ISO:
        (tmp_path / name).write_bytes(b"\0" * 4096)
    else:
        run(["qemu-img", "create", "-q", "-f", fmt, tmp_path / name, "16M"])
    source = resolve(str(tmp_path / name))
    assert (source.kind, source.disk_format) == (kind, fmt)
    assert source.boot_mode is (BootMode.UEFI if "-efi" in name else BootMode.BIOS)


def test_prefix_finds_build_outputs(tmp_path: Path) -> None:
    (tmp_path / "hello-efi.iso").write_bytes(b"\0")
    source = resolve(str(tmp_path / "hello"))
    assert source.kind is SourceKind.ISO and source.boot_mode is BootMode.UEFI


def test_unknown_suffix_is_probed(tmp_path: Path) -> None:
    disk = tmp_path / "disk.bin"
    run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"])
    assert resolve(str(disk)).disk_format == "qcow2"


def test_gcp_tarball_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.img.tar.gz").write_bytes(b"x")
    with pytest.raises(UsageError, match="GCP image tarball"):
        resolve(str(tmp_path / "a.img.tar.gz"))


def test_gpt_with_esp_boots_uefi(tmp_path: Path) -> None:
    disk = _gpt_disk(tmp_path / "disk.img")
    assert resolve(str(disk)).boot_mode is BootMode.UEFI
    assert resolve(str(disk), BootMode.BIOS).boot_mode is BootMode.BIOS  # --boot wins


def test_esp_with_bios_boot_code_is_hybrid_so_bios(tmp_path: Path) -> None:
    disk = _gpt_disk(tmp_path / "hybrid.img")
    with disk.open("r+b") as fh:
        fh.write(b"\xfa\x31\xc0" + b"\x90" * 100)  # boot code, as syslinux's gptmbr.bin puts there
    assert resolve(str(disk)).boot_mode is BootMode.BIOS
    assert resolve(str(disk), BootMode.HYBRID).boot_mode is BootMode.BIOS


def test_gpt_without_esp_and_plain_mbr_boot_bios(tmp_path: Path) -> None:
    assert resolve(str(_gpt_disk(tmp_path / "linux.img", esp=False))).boot_mode is BootMode.BIOS
    assert boot_mode_of_head(b"\0" * 512 * 34) is BootMode.BIOS


def test_head_of_a_qcow2_is_read_through_qemu_img(tmp_path: Path) -> None:
    raw = _gpt_disk(tmp_path / "disk.img")
    qcow2 = tmp_path / "disk.qcow2"
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2])
    assert read_head(qcow2, "qcow2") == read_head(raw, "raw")
    assert resolve(str(qcow2)).boot_mode is BootMode.UEFI
