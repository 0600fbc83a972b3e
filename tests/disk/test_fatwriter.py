"""The in-process FAT32 writer, read back by mtools and checked by fsck.fat."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from lkcloud.disk import fatwriter
from lkcloud.errors import BuildError
from lkcloud.process import run

MIB = 1 << 20
SIZE = 40 * MIB
EPOCH = 1492532400  # 2017-04-18 16:20 UTC
ENV = {"MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}


def contents(tmp_path: Path) -> dict[str, fatwriter.File]:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 40000 + b"tail")
    return {
        "EFI/BOOT/BOOTX64.EFI": fatwriter.from_path(big),
        "vmlinuz": fatwriter.from_bytes(b"kernel"),
        "syslinux.cfg": fatwriter.from_bytes(b"DEFAULT linux\n"),
        "A Long Name.conf": fatwriter.from_bytes(b"long"),
        "MixedCase.TXT": fatwriter.from_bytes(b"mixed"),
        "empty": fatwriter.from_bytes(b""),
        "deep/er/still/file.txt": fatwriter.from_bytes(b"deep"),
    }


def write_volume(path: Path, files: dict[str, fatwriter.File], serial: int = 0x1234ABCD, offset: int = 0) -> None:
    geo = fatwriter.geometry(SIZE, 1, offset // 512)
    layout = fatwriter.plan(geo, {dest: f.size for dest, f in files.items()})
    with path.open("wb") as fh:
        fh.truncate(offset + SIZE)
        fatwriter.write_files(fh, offset, layout, files)
        fatwriter.write_metadata(fh, offset, layout, serial=serial, label="ESP", epoch=EPOCH)


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    path = tmp_path / "fat.img"
    write_volume(path, contents(tmp_path))
    return path


def test_fsck_clean(volume: Path) -> None:
    text = run(["fsck.fat", "-n", "-v", volume]).text  # exits non-zero on any inconsistency
    assert "differences" not in text
    assert "wrong" not in text.lower()
    assert "32 bit entries" in text


def test_mtools_reads_every_file_back(volume: Path, tmp_path: Path) -> None:
    for dest, file in contents(tmp_path).items():
        out = tmp_path / "back"
        out.unlink(missing_ok=True)
        run(["mcopy", "-i", volume, f"::/{dest}", out], env=ENV)
        assert out.stat().st_size == file.size, dest
    run(["mcopy", "-i", volume, "::/EFI/BOOT/BOOTX64.EFI", tmp_path / "uki"], env=ENV)
    assert (tmp_path / "uki").read_bytes() == (tmp_path / "big.bin").read_bytes()


def test_names_case_and_dates(volume: Path) -> None:
    listing = run(["mdir", "-i", volume, "-a", "-b", "::/"], env=ENV).text.splitlines()
    names = {Path(p).name for p in listing}
    assert names == {"EFI", "vmlinuz", "syslinux.cfg", "A Long Name.conf", "MixedCase.TXT", "empty", "deep"}
    text = run(["mdir", "-i", volume, "-a", "::/"], env=ENV).text
    assert "Volume in drive : is ESP" in text
    assert "1234-ABCD" in text
    stamp = datetime.datetime.fromtimestamp(EPOCH, datetime.UTC).strftime("%Y-%m-%d  %H:%M")
    assert text.count(stamp) == len(names)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "one.img", tmp_path / "two.img"
    write_volume(first, contents(tmp_path))
    write_volume(second, contents(tmp_path))
    assert first.read_bytes() == second.read_bytes()


def test_at_an_offset_with_a_later_serial(tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    write_volume(disk, contents(tmp_path), serial=0, offset=MIB)
    with disk.open("r+b") as fh:
        fatwriter.set_serial(fh, MIB, 0xCAFEF00D)
    text = run(["mdir", "-i", f"{disk}@@{MIB}", "::/"], env=ENV).text
    assert "CAFE-F00D" in text
    with disk.open("rb") as fh:
        fh.seek(MIB + 28)
        assert int.from_bytes(fh.read(4), "little") == MIB // 512  # hidden sectors


def test_files_start_on_4k_boundaries(tmp_path: Path) -> None:
    files = contents(tmp_path)
    layout = fatwriter.plan(fatwriter.geometry(SIZE, 1, 0), {dest: f.size for dest, f in files.items()})
    for dest, file in files.items():
        if file.size:
            assert layout.placement(dest) % 4096 == 0, dest


def test_too_small_for_fat32() -> None:
    with pytest.raises(BuildError, match="too few clusters"):
        fatwriter.geometry(8 * MIB, 1, 0)


def test_files_that_do_not_fit() -> None:
    with pytest.raises(BuildError, match="clusters"):
        fatwriter.plan(fatwriter.geometry(SIZE, 1, 0), {"huge": SIZE})


def test_syslinux_installs_on_the_layout(volume: Path) -> None:
    run(["syslinux", "--install", volume], env=ENV)
    listing = run(["mdir", "-i", volume, "-a", "-b", "::/"], env=ENV).text.splitlines()
    assert {"::/ldlinux.sys", "::/ldlinux.c32"} <= set(listing)
    run(["fsck.fat", "-n", volume])
    with volume.open("rb") as fh:
        assert fh.read(11)[3:] == b"SYSLINUX"


def test_placed_files_start_on_their_boundary_of_the_disk_and_keep_their_room() -> None:
    geo = fatwriter.geometry(SIZE, 1, MIB // 512, align=512 * 1024)
    assert (geo.hidden + geo.data_start) * 512 % (512 * 1024) == 0  # the data area starts on a block
    files = {
        "syslinux.cfg": fatwriter.Placed(100),
        "vmlinuz": fatwriter.Placed(3 * MIB + 5, align=512 * 1024, room=4 * MIB),
        "initrd.img": fatwriter.Placed(5 * MIB, align=512 * 1024),
    }
    layout = fatwriter.plan(geo, files)
    for name in ("vmlinuz", "initrd.img"):
        assert (MIB + layout.placement(name)) % (512 * 1024) == 0, name
    assert layout.placement("initrd.img") - layout.placement("vmlinuz") == 4 * MIB  # the room, not the size
    assert layout.placement("syslinux.cfg") < layout.placement("vmlinuz")  # in the order given
    grown = fatwriter.plan(geo, {**files, "vmlinuz": fatwriter.Placed(4 * MIB - 7, align=512 * 1024, room=4 * MIB)})
    assert grown.placement("initrd.img") == layout.placement("initrd.img")
