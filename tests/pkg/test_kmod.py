"""modules.dep and modules.alias as depmod writes them, from synthetic module metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import BuildError
from lkcloud.pkg.kmod import Module, _check_image, _closure, modules_alias, modules_dep

MODULES = {
    m.name: m
    for m in (
        Module("vfat", "kernel/fs/fat/vfat.ko", ("fat",), ("fs-vfat",)),
        Module("fat", "kernel/fs/fat/fat.ko", (), ()),
        Module("nf_nat", "kernel/net/nf_nat.ko", ("nf_conntrack", "libcrc32c"), ()),
        Module("nf_conntrack", "kernel/net/nf_conntrack.ko", ("libcrc32c",), ()),
        Module("libcrc32c", "kernel/lib/libcrc32c.ko", (), ()),
        Module("virtio_blk", "kernel/drivers/block/virtio_blk.ko", (), ("virtio:d00000002v*",)),
    )
}


def test_closure_adds_dependencies() -> None:
    assert _closure(MODULES, ["vfat"]) == ["fat", "vfat"]
    assert _closure(MODULES, ["nf-nat"]) == ["libcrc32c", "nf_conntrack", "nf_nat"]
    assert _closure(MODULES, ["virtio_*"]) == ["virtio_blk"]


def test_unknown_module_is_an_error() -> None:
    with pytest.raises(BuildError, match="kernel modules not found: nosuch"):
        _closure(MODULES, ["vfat", "nosuch"])


def test_modules_dep_lists_the_last_to_load_first() -> None:
    text = modules_dep(MODULES, ["nf_nat", "nf_conntrack", "libcrc32c", "fat", "vfat"])
    lines = text.splitlines()
    assert "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko" in lines
    assert "kernel/net/nf_nat.ko: kernel/net/nf_conntrack.ko kernel/lib/libcrc32c.ko" in lines
    assert "kernel/lib/libcrc32c.ko:" in lines


def test_modules_alias() -> None:
    text = modules_alias(MODULES, ["vfat", "virtio_blk"])
    assert "alias fs-vfat vfat" in text
    assert "alias virtio:d00000002v* virtio_blk" in text


def _kernel_file(tmp_path: Path, marks: dict[int, bytes]) -> Path:
    data = bytearray(0x400)
    for offset, mark in marks.items():
        data[offset:offset + len(mark)] = mark
    path = tmp_path / "vmlinuz-test"
    path.write_bytes(bytes(data))
    return path


def test_kernel_image_must_match_the_architecture(tmp_path: Path) -> None:
    bzimage = _kernel_file(tmp_path, {0x202: b"HdrS"})
    _check_image(bzimage, "linux-image-test", "amd64")
    with pytest.raises(BuildError) as info:
        _check_image(bzimage, "linux-image-test", "arm64")
    assert info.value.message == "linux-image-test: /boot/vmlinuz-test is an amd64 kernel, not one for arm64"
    image = _kernel_file(tmp_path, {0x38: b"ARM\x64"})
    _check_image(image, "linux-image-test", "arm64")
    with pytest.raises(BuildError, match="no kernel image this builder knows"):
        _check_image(_kernel_file(tmp_path, {}), "linux-image-test", "arm64")
