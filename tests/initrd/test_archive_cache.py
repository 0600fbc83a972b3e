"""Compressed archives cached by content: a rebuild compresses only the archives whose content
changed, and what comes from the cache is byte for byte what a fresh compression writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.initrd import InitrdFiles, archive_cache, build_initrd
from tests.initrd.streams import entries, rootfs


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "lkcloud" / "initrd"


def build(tmp_path: Path, name: str, function: bytes = b"echo hello\n", compression: str = "gzip") -> InitrdFiles:
    work = tmp_path / name
    work.mkdir()
    return build_initrd(rootfs(work / "rootfs.tar", entries(function)), work, compression=compression, dir_mtime=7)


def test_a_rebuild_copies_every_archive_and_writes_the_same_bytes(tmp_path: Path, cache: Path) -> None:
    first = build(tmp_path, "a")
    stored = sorted(p.name for p in cache.iterdir())
    assert len(stored) == len(first.segments) and all(name.startswith("gzip-v") for name in stored)
    second = build(tmp_path, "b")
    assert sorted(p.name for p in cache.iterdir()) == stored  # nothing compressed again
    assert second.initrd.read_bytes() == first.initrd.read_bytes()


def test_a_changed_component_is_the_only_one_compressed_again(tmp_path: Path, cache: Path) -> None:
    first = build(tmp_path, "a")
    build(tmp_path, "b", function=b"echo changed\n")
    assert len(list(cache.iterdir())) == len(first.segments) + 1


def test_a_damaged_entry_is_compressed_afresh(tmp_path: Path, cache: Path) -> None:
    first = build(tmp_path, "a", compression="xz")
    for entry in cache.iterdir():
        data = bytearray(entry.read_bytes())
        data[-1] ^= 0xFF
        entry.write_bytes(bytes(data))
    again = build(tmp_path, "b", compression="xz")
    assert again.initrd.read_bytes() == first.initrd.read_bytes()
    assert all(archive_cache.copy_out(entry.name, _Sink()) for entry in cache.iterdir())  # replaced, whole


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("not a directory")
    assert build(tmp_path, "a").initrd.read_bytes() == build(tmp_path, "b").initrd.read_bytes()


def test_the_cache_stays_under_its_limit(tmp_path: Path) -> None:
    for index in range(5):
        (tmp_path / f"e{index}").write_bytes(bytes(100))
    archive_cache._trim(tmp_path, limit=250)
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 250


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)
