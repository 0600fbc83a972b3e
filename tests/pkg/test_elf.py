"""ELF reading: interpreter, needed libraries and sections, from the headers only."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from lkcloud.pkg import elf


def host_binary() -> Path:
    found = shutil.which("ls")
    assert found is not None
    return Path(found).resolve()


def test_dynamic_executable() -> None:
    info = elf.dynamic(host_binary())
    assert info.interpreter is not None and "ld-linux" in info.interpreter
    assert "libc.so.6" in info.needed


def test_static_executable() -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static is not installed")
    info = elf.dynamic(Path(busybox))
    assert info.interpreter is None and info.needed == ()


def test_section_names(tmp_path: Path) -> None:
    assert elf.section(host_binary(), ".interp") is not None
    assert elf.section(host_binary(), ".no-such-section") is None


def test_not_elf(tmp_path: Path) -> None:
    text = tmp_path / "script"
    text.write_text("#!/bin/sh\n" * 10)
    assert not elf.is_elf(text)
    with pytest.raises(elf.ElfError):
        elf.dynamic(text)


def test_truncated(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    header = bytearray(host_binary().read_bytes()[:64])
    struct.pack_into("<Q", header, 32, 1 << 20)  # e_phoff far beyond the file
    broken.write_bytes(bytes(header))
    with pytest.raises(elf.ElfError):
        elf.dynamic(broken)
