"""syslinux installed in-process: byte for byte what ``syslinux --install`` writes, learnt once
and cached by digest."""

from __future__ import annotations

import shutil
import struct
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.disk import fatwriter, syslinux
from lkcloud.errors import ToolMissingError
from lkcloud.process import run

MIB = 1 << 20
SIZE = 64 * MIB
ENV = {"MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
FSINFO_NEXT_FREE = 512 + 492


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    syslinux.template.cache_clear()
    yield tmp_path / "cache" / "lkcloud" / "syslinux"
    syslinux.template.cache_clear()


def _sectors(volume: Path, geo: fatwriter.Geometry, count: int) -> list[int]:
    """The volume sectors of ldlinux.sys, in file order, read from the root directory and the FAT."""
    data = volume.read_bytes()
    root = data[geo.offset(2) : geo.offset(2) + geo.cluster_bytes]
    first = next(
        struct.unpack_from("<H", root, at + 20)[0] << 16 | struct.unpack_from("<H", root, at + 26)[0]
        for at in range(0, len(root), 32)
        if root[at : at + 11] == b"LDLINUX SYS"
    )
    table = array("I", data[geo.reserved * 512 : (geo.reserved + geo.fat_sectors) * 512])
    chain = syslinux._chain(table, first)
    start = [geo.offset(c) // 512 for c in chain]
    return [s + i for s in start for i in range(geo.cluster_sectors)][:count]


def test_matches_a_real_install_on_a_fragmented_volume(tmp_path: Path, cache: Path) -> None:
    """syslinux fills a hole left by a deleted file and goes on past the files: two extents. Our
    patch of the learnt bytes for those sectors equals what syslinux wrote, boot sector included."""
    geo = fatwriter.geometry(SIZE, 1, 2048)
    layout = fatwriter.plan(geo, {"a": 4096, "hole": 20000, "z": 3000})
    volume = tmp_path / "volume.img"
    with volume.open("wb") as fh:
        fh.truncate(SIZE)
        fatwriter.write_metadata(fh, 0, layout, serial=7, label="BOOT", epoch=0)
    run(["mdel", "-i", volume, "::/hole"], env=ENV)
    with volume.open("r+b") as fh:
        fh.seek(FSINFO_NEXT_FREE)
        fh.write(struct.pack("<I", next(n.first for n in layout.nodes if n.path == "hole")))  # mtools starts here
    before = volume.read_bytes()[:512]
    run(["syslinux", "--install", volume], env=ENV)

    found = syslinux.template()
    sectors = _sectors(volume, geo, found.sectors)
    assert len(syslinux.extents(sectors[1:-2])) == 2
    with volume.open("rb") as fh:
        installed = syslinux.read_root_file(fh, geo, b"LDLINUX SYS")
        assert syslinux.read_root_file(fh, geo, b"LDLINUX C32") == found.ldlinux_c32
    assert syslinux.patched(found, sectors) == installed
    assert syslinux.boot_sector(found, before, sectors[0]) == volume.read_bytes()[:512]


def test_extents_stop_short_of_64_kib() -> None:
    assert syslinux.extents(list(range(100, 300))) == [(100, 127), (227, 73)]
    assert syslinux.extents([5, 6, 9, 10, 11]) == [(5, 2), (9, 3)]
    assert syslinux.extents([]) == []


def test_learnt_once_then_read_from_the_cache(cache: Path) -> None:
    learnt = syslinux.template()
    (entry,) = cache.iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["boot_sector", "digests.json", "ldlinux_c32", "ldlinux_sys"]
    stamp = (entry / "ldlinux_sys").stat().st_mtime_ns
    syslinux.template.cache_clear()
    assert syslinux.template() == learnt
    assert (entry / "ldlinux_sys").stat().st_mtime_ns == stamp  # read, not learnt again


def test_a_corrupt_cache_entry_is_learnt_again(cache: Path) -> None:
    learnt = syslinux.template()
    (entry,) = cache.iterdir()
    (entry / "ldlinux_sys").write_bytes(b"\0" * len(learnt.ldlinux_sys))
    syslinux.template.cache_clear()
    assert syslinux.template() == learnt
    assert (entry / "ldlinux_sys").read_bytes() == learnt.ldlinux_sys


def test_missing_syslinux_names_the_package(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    if shutil.which("syslinux", path="/usr/sbin:/sbin"):
        pytest.skip("syslinux is installed in sbin, which lkcloud also searches")
    with pytest.raises(ToolMissingError) as caught:
        syslinux.template()
    assert caught.value.hint == "install it with: apt-get install syslinux"


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    syslinux.template.cache_clear()
    try:
        assert syslinux.template().sectors > 3
    finally:
        syslinux.template.cache_clear()
