"""UKI sections packed with struct: pefile reads them back, tightly placed, contents intact."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pefile
import pytest

from lkcloud.disk import bootloader, layout, uki
from lkcloud.errors import BuildError


@pytest.fixture
def built(tmp_path: Path) -> tuple[bytes, bytes, bytes]:
    stub = bootloader.path("uki-stub")
    kernel, initrd = tmp_path / "k", tmp_path / "i"
    kernel.write_bytes(b"K" * 1_000_003)
    initrd.write_bytes(b"I" * 70_001)
    out = io.BytesIO()
    uki.write(out, stub, uki.sections("demo", kernel, initrd, "console=ttyS0"))
    return out.getvalue(), kernel.read_bytes(), stub.read_bytes()


def test_sections_parse_back(built: tuple[bytes, bytes, bytes]) -> None:
    image, kernel, stub = built
    pe = pefile.PE(data=image)
    names = [s.Name.rstrip(b"\0").decode() for s in pe.sections]
    assert names[-4:] == [".osrel", ".cmdline", ".linux", ".initrd"]
    by_name = {s.Name.rstrip(b"\0").decode(): s for s in pe.sections}
    linux = by_name[".linux"]
    assert linux.Misc_VirtualSize == len(kernel)
    assert image[linux.PointerToRawData : linux.PointerToRawData + len(kernel)] == kernel
    cmdline = by_name[".cmdline"]
    assert image[cmdline.PointerToRawData : cmdline.PointerToRawData + cmdline.Misc_VirtualSize] == b"console=ttyS0\0"
    assert b"ID=lkcloud" in by_name[".osrel"].get_data()
    assert image[: len(stub)][:0x40] == stub[:0x40]


def test_tight_layout(built: tuple[bytes, bytes, bytes]) -> None:
    image, _, _ = built
    pe = pefile.PE(data=image)
    align = pe.OPTIONAL_HEADER.SectionAlignment
    sections = sorted(pe.sections, key=lambda s: s.VirtualAddress)
    for before, after in itertools.pairwise(sections):
        assert after.VirtualAddress >= before.VirtualAddress + before.Misc_VirtualSize
    for new in sections[-4:]:
        assert new.VirtualAddress % align == 0
        assert new.PointerToRawData % pe.OPTIONAL_HEADER.FileAlignment == 0
        assert new.Characteristics == 0x40000040
    last = sections[-1]
    assert pe.OPTIONAL_HEADER.SizeOfImage == -(-(last.VirtualAddress + last.Misc_VirtualSize) // align) * align
    assert pe.OPTIONAL_HEADER.SizeOfImage < 2 << 20  # packed tightly, not at the manpage's 0x3000000
    assert pe.OPTIONAL_HEADER.CheckSum == 0
    assert pe.FILE_HEADER.NumberOfSections == len(sections)
    assert len(image) == last.PointerToRawData + last.SizeOfRawData


def test_not_a_pe_stub(tmp_path: Path) -> None:
    stub = tmp_path / "stub"
    stub.write_bytes(b"\x7fELF" + bytes(200))
    with pytest.raises(BuildError, match="not a PE"):
        uki.write(io.BytesIO(), stub, [uki.Section(".cmdline", b"x")])


def test_kernel_and_initrd_start_on_blocks_with_room_for_the_kernel(built: tuple[bytes, bytes, bytes]) -> None:
    image, kernel, _ = built
    by_name = {s.Name.rstrip(b"\0").decode(): s for s in pefile.PE(data=image).sections}
    linux, initrd = by_name[".linux"], by_name[".initrd"]
    assert linux.PointerToRawData % layout.BLOCK == 0 and initrd.PointerToRawData % layout.BLOCK == 0
    assert initrd.PointerToRawData - linux.PointerToRawData == layout.room(len(kernel))  # the kernel may grow
    assert not any(image[linux.PointerToRawData + linux.SizeOfRawData : initrd.PointerToRawData])


def test_gaps_stay_holes_in_a_sparse_file(tmp_path: Path) -> None:
    kernel, initrd = tmp_path / "k", tmp_path / "i"
    kernel.write_bytes(b"K" * 1_000_003)
    initrd.write_bytes(b"I" * 70_001)
    target = tmp_path / "uki.efi"
    with target.open("wb") as out:
        uki.write(out, bootloader.path("uki-stub"), uki.sections("demo", kernel, initrd, "console=ttyS0"))
    assert target.stat().st_blocks * 512 < target.stat().st_size - layout.BLOCK
