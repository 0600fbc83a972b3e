"""Image files are known by their bytes: commands refuse what they cannot use before any work."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from lkcloud import diskfile
from lkcloud.diskfile import Kind
from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud_qemu import cidata


def qemu_img(path: Path, fmt: str, *options: str) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, *options, str(path), "4M"], check=True)
    return path


def mbr(path: Path, *, gpt: bool = False, boot_code: bool = True) -> Path:
    head = bytearray(4096)
    if boot_code:
        head[0:2] = b"\xeb\x63"
    head[510:512] = b"\x55\xaa"
    if gpt:
        head[512:520] = b"EFI PART"
    path.write_bytes(bytes(head))
    return path


def gce_archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("disk.raw")
        info.size = 1024
        tar.addfile(info, io.BytesIO(bytes(1024)))
    return path


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: qemu_img(p / "d.qcow2", "qcow2"), Kind.QCOW2),
    (lambda p: qemu_img(p / "d.vhd", "vpc", "-o", "subformat=fixed"), Kind.VHD),
    (lambda p: qemu_img(p / "d.vhd", "vpc"), Kind.DYNAMIC_VHD),
    (lambda p: qemu_img(p / "d.vmdk", "vmdk"), Kind.VMDK),
    (lambda p: cidata.write_iso(b"{}", p / "d.iso"), Kind.ISO),
    (lambda p: gce_archive(p / "d.img.tar.gz"), Kind.GCE_TAR),
    (lambda p: mbr(p / "d.img"), Kind.RAW),
    (lambda p: mbr(p / "d.img", gpt=True), Kind.RAW),
])
def test_each_kind_is_recognised(tmp_path: Path, make: object, kind: Kind) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert diskfile.sniff(path) is kind


def test_a_kernel_build_by_its_prefix(tmp_path: Path) -> None:
    kernel = tmp_path / "hello-kernel"
    kernel.write_bytes(bytes(0x202) + b"HdrS" + bytes(100))
    assert diskfile.sniff(kernel) is Kind.KERNEL
    assert diskfile.sniff(tmp_path / "hello") is Kind.KERNEL
    assert diskfile.kernel_prefix(tmp_path / "hello") == tmp_path / "hello"


@pytest.mark.parametrize(("content", "what"), [
    (b"# README\nhello\n", "it looks like text"),
    (b"\x00\x01\x02" * 100, "no disk, ISO, qcow2, VHD or VMDK marks"),
])
def test_what_is_not_an_image_is_said_in_one_line(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=f"README.md: not an image file \\({what}\\)"):
        diskfile.sniff(path)


def test_empty_missing_and_directories(tmp_path: Path) -> None:
    (tmp_path / "empty.img").touch()
    for path, words in ((tmp_path / "empty.img", "empty"), (tmp_path / "nope.img", "no such file"),
                        (tmp_path, "is a directory")):
        with pytest.raises(UsageError, match=words):
            diskfile.sniff(path)


def test_expect_names_what_the_command_takes(tmp_path: Path) -> None:
    path = qemu_img(tmp_path / "d.qcow2", "qcow2")
    with pytest.raises(UsageError, match=r"d\.qcow2: a qcow2 image; push aws takes a raw disk image, a fixed VHD"):
        diskfile.expect(path, (Kind.RAW, Kind.VHD), "push aws")


def test_boot_mode_from_the_partition_table(tmp_path: Path) -> None:
    assert diskfile.boot_mode(mbr(tmp_path / "a", gpt=True)) is BootMode.HYBRID
    assert diskfile.boot_mode(mbr(tmp_path / "b", gpt=True, boot_code=False)) is BootMode.UEFI
    assert diskfile.boot_mode(mbr(tmp_path / "c")) is BootMode.BIOS
    assert diskfile.boot_mode(mbr(tmp_path / "d", boot_code=False)) is None
