"""The segmented layout: one archive per component, in a stable order, each on a 512 KiB
boundary; unchanged components keep their bytes and their place; the unpacked tree is the
stream's."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lkcloud.disk.layout import BLOCK
from lkcloud.initrd import InitrdFiles, archives, build_initrd, read_cpio
from lkcloud.oci.unpack import Entry
from tests.initrd.streams import entries, rootfs

Tree = dict[str, tuple[int, int, int, int, bytes]]


def build(tmp_path: Path, name: str, stream: list[Entry], layout: str = "segmented") -> InitrdFiles:
    work = tmp_path / name
    work.mkdir()
    return build_initrd(rootfs(work / "rootfs.tar", stream), work, layout=layout, dir_mtime=7)


def unpacked(data: bytes) -> Tree:
    """The tree the kernel leaves: every archive in order, a later entry for a path replacing it."""
    tree: Tree = {}
    for archive in archives(data):
        for name, *rest in read_cpio(archive):
            tree[name] = (rest[0], rest[1], rest[2], rest[3], rest[4])
    return tree


def segment_bytes(parts: InitrdFiles, name: str) -> bytes:
    found = next(s for s in parts.segments if s.name == name)
    return parts.initrd.read_bytes()[found.offset : found.offset + found.size]


def test_one_archive_per_component_in_a_stable_order(tmp_path: Path) -> None:
    parts = build(tmp_path, "a", entries())
    names = [s.name for s in parts.segments]
    assert names == ["kernel", "init[0]", "init[1]", "init", "onboot[0]", "onboot[1]", "services[0]", "files"]
    data = parts.initrd.read_bytes()
    assert len(data) % BLOCK == 0
    for segment in parts.segments:
        assert segment.offset % BLOCK == 0, segment
        assert data[segment.offset : segment.offset + 2] == b"\x1f\x8b", segment  # a gzip member starts there
        assert not any(data[segment.offset + segment.size : segment.offset + segment.size + 4096])  # padding
    ends = [s.offset + s.size for s in parts.segments]
    assert all(end <= following.offset for end, following in zip(ends, parts.segments[1:], strict=False))


def test_every_archive_ends_with_its_trailer(tmp_path: Path) -> None:
    parts = build(tmp_path, "a", entries())
    found = list(archives(parts.initrd.read_bytes()))
    assert len(found) == len(parts.segments)
    for archive in found:
        assert archive.rstrip(b"\0").endswith(b"TRAILER!!!")


def test_the_unpacked_tree_is_the_streams(tmp_path: Path) -> None:
    segmented = unpacked(build(tmp_path, "a", entries()).initrd.read_bytes())
    stream = unpacked(build(tmp_path, "b", entries(), layout="stream").initrd.read_bytes())
    assert segmented == stream
    assert segmented["etc/hosts"][4] == b"overridden by init[1]\n"  # the last entry for a path wins
    assert segmented["bin/sh"][4] == b"busybox"  # hard link -> relative symlink


def test_a_path_is_written_once_and_parents_travel_with_their_children(tmp_path: Path) -> None:
    parts = build(tmp_path, "a", entries())
    data = parts.initrd.read_bytes()
    written = [(name, mode) for archive in archives(data) for name, mode, *_ in read_cpio(archive)]
    regular = [name for name, mode in written if not stat.S_ISDIR(mode)]
    assert len(regular) == len(set(regular))
    for archive in archives(data):
        names = {name for name, *_ in read_cpio(archive)}
        for name in names:
            parent = name.rpartition("/")[0]
            assert not parent or parent in names, (name, sorted(names))
    init0 = {name: mode for name, mode, *_ in read_cpio(next(archives(segment_bytes(parts, "init[0]"))))}
    assert "etc/hosts" not in init0  # won by init[1]
    assert init0["etc"] == 0o40755


def test_a_changed_function_leaves_the_other_segments_in_place(tmp_path: Path) -> None:
    before = build(tmp_path, "a", entries(function=b"echo hello\n"))
    after = build(tmp_path, "b", entries(function=b"echo hello again, release 2\n"))
    assert [(s.name, s.offset) for s in before.segments] == [(s.name, s.offset) for s in after.segments]
    old, new = before.initrd.read_bytes(), after.initrd.read_bytes()
    changed = {s.name for s in before.segments if segment_bytes(before, s.name) != segment_bytes(after, s.name)}
    assert changed == {"onboot[1]"}
    blocks = [i for i in range(0, len(old), BLOCK) if old[i : i + BLOCK] != new[i : i + BLOCK]]
    function = next(s for s in before.segments if s.name == "onboot[1]")
    assert blocks and all(function.offset <= i < function.offset + function.size for i in blocks)


def test_growth_past_a_boundary_moves_what_follows_by_whole_blocks(tmp_path: Path) -> None:
    before = build(tmp_path, "a", entries(service_size=300_000))
    after = build(tmp_path, "b", entries(service_size=300_000 + BLOCK))
    moved = {s.name: (s.offset, t.offset) for s, t in zip(before.segments, after.segments, strict=True)}
    assert moved["onboot[1]"][0] == moved["onboot[1]"][1]  # before the growth: in place
    old_files, new_files = moved["files"]
    assert new_files - old_files == BLOCK  # after it: shifted by a whole block
    assert segment_bytes(before, "files") == segment_bytes(after, "files")  # with the same bytes


@pytest.mark.parametrize("layout", ["segmented", "stream"])
def test_rebuilds_are_byte_identical(tmp_path: Path, layout: str) -> None:
    first = build(tmp_path, "a", entries(), layout=layout)
    second = build(tmp_path, "b", entries(), layout=layout)
    assert first.initrd.read_bytes() == second.initrd.read_bytes()
    assert first.segments == second.segments


def test_stream_is_one_unpadded_archive(tmp_path: Path) -> None:
    parts = build(tmp_path, "a", entries(), layout="stream")
    assert [(s.name, s.offset) for s in parts.segments] == [("rootfs", 0)]
    assert parts.segments[0].size == parts.initrd.stat().st_size
