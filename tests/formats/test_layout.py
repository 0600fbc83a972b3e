"""Disks laid out for small deltas: the kernel, the UKI sections and the initrd (so each of its
segments) start on 512 KiB boundaries of the disk, and a release that changes one component of
the initrd changes only the blocks of that component."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.disk.layout import BLOCK
from lkcloud.formats import BuildInputs, table
from lkcloud.initrd import InitrdFiles, build_initrd
from lkcloud.progress import NULL
from tests.formats.support import content_digest, inputs_at
from tests.initrd.streams import entries, rootfs

FORMATS = table()
SIZE = 128 << 20  # small disks: these tests read them whole


def release(base: Path, kernel: Path, function: bytes, kernel_tail: bytes = b"") -> tuple[BuildInputs, InitrdFiles]:
    """A build of the test stream whose function script is ``function``, as format inputs."""
    work = base / "initrd"
    work.mkdir(parents=True)
    parts = build_initrd(rootfs(work / "rootfs.tar", entries(function=function)), work)
    if kernel_tail:
        grown = work / "vmlinuz"
        grown.write_bytes(kernel.read_bytes() + kernel_tail)
        kernel = grown
    return inputs_at(base, kernel=kernel, initrd=parts.initrd), parts


def places(disk: bytes, content: bytes) -> list[int]:
    """The block-aligned offsets where ``content`` lies in ``disk``."""
    return [at for at in range(0, len(disk), BLOCK) if disk[at : at + len(content)] == content]


def differing(old: bytes, new: bytes) -> list[int]:
    return [at for at in range(0, max(len(old), len(new)), BLOCK) if old[at : at + BLOCK] != new[at : at + BLOCK]]


@pytest.fixture(scope="module")
def releases(kernel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[BuildInputs, InitrdFiles]]:
    base = tmp_path_factory.mktemp("releases")
    return {
        "one": release(base / "one", kernel, b"echo hello\n"),
        "two": release(base / "two", kernel, b"echo hello again, release 2\n"),
        "kernel": release(base / "kernel", kernel, b"echo hello\n", kernel_tail=b"\x90" * 100_000),
    }


def disk_bytes(inputs: BuildInputs, fmt: str, name: str) -> bytes:
    target = inputs_at(inputs.outdir.parent / name, kernel=inputs.kernel, initrd=inputs.initrd, size=SIZE)
    (path,) = FORMATS[fmt].write(target, NULL)
    return path.read_bytes()


@pytest.mark.parametrize(("fmt", "copies"), [("aws", 2), ("raw-efi", 1), ("raw-bios", 1)])
def test_kernel_and_initrd_start_on_blocks(releases: dict[str, tuple[BuildInputs, InitrdFiles]], fmt: str,
                                           copies: int) -> None:
    inputs, parts = releases["one"]
    assert inputs.kernel is not None
    disk = disk_bytes(inputs, fmt, f"aligned-{fmt}")
    initrd = parts.initrd.read_bytes()
    assert len(places(disk, initrd)) == copies  # the UKI's .initrd and/or /initrd.img
    assert len(places(disk, inputs.kernel.read_bytes())) == copies  # its .linux and/or /vmlinuz


def test_a_changed_function_changes_only_its_blocks(releases: dict[str, tuple[BuildInputs, InitrdFiles]]) -> None:
    (one, parts), (two, _) = releases["one"], releases["two"]
    old, new = disk_bytes(one, "aws", "delta-one"), disk_bytes(two, "aws", "delta-two")
    function = next(s for s in parts.segments if s.name == "onboot[1]")
    allowed = {at + function.offset + offset for at in places(old, parts.initrd.read_bytes())
               for offset in range(0, function.size + BLOCK, BLOCK)}
    changed = differing(old, new)
    assert changed, "the releases differ"
    assert set(changed) <= {at // BLOCK * BLOCK for at in allowed}  # no partition table, FAT or kernel block
    assert len(changed) <= 4


def test_a_grown_kernel_leaves_the_initrd_in_place(releases: dict[str, tuple[BuildInputs, InitrdFiles]]) -> None:
    (one, parts), (grown, _) = releases["one"], releases["kernel"]
    old, new = disk_bytes(one, "aws", "kernel-one"), disk_bytes(grown, "aws", "kernel-grown")
    initrd = parts.initrd.read_bytes()
    assert places(old, initrd) == places(new, initrd)


def test_the_disk_identity_does_not_follow_the_content(releases: dict[str, tuple[BuildInputs, InitrdFiles]]) -> None:
    """GUIDs and serials come from the name, kind and size: the GPT and FAT blocks stay put."""
    (one, _), (two, _) = releases["one"], releases["two"]
    old, new = disk_bytes(one, "vhd", "ident-one"), disk_bytes(two, "vhd", "ident-two")
    assert old[:BLOCK] == new[:BLOCK]  # protective MBR, GPT header and entries
    assert old[-BLOCK:] == new[-BLOCK:]  # backup GPT and the VHD footer


def test_same_release_same_disk(releases: dict[str, tuple[BuildInputs, InitrdFiles]], tmp_path: Path) -> None:
    inputs, _ = releases["two"]
    first = FORMATS["aws"].write(inputs_at(tmp_path / "a", kernel=inputs.kernel, initrd=inputs.initrd), NULL)[0]
    second = FORMATS["aws"].write(inputs_at(tmp_path / "b", kernel=inputs.kernel, initrd=inputs.initrd), NULL)[0]
    assert first.stat().st_size == 1 << 30
    assert content_digest(first) == content_digest(second)
