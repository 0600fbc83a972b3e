"""The initrd writer: newc cpio, compression, kernel split-out, both layouts, and real boots."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import random
import zlib
from pathlib import Path

import pytest
import zstandard

from lkcloud.disk.layout import BLOCK
from lkcloud.errors import UsageError
from lkcloud.initrd import archives, build_initrd, read_cpio
from lkcloud.initrd.pgzip import ParallelGzip
from lkcloud.oci.unpack import CHAR, DIR, HARDLINK, REG, SYMLINK, Entry
from lkcloud.pkg import debian
from lkcloud.process import run
from tests.initrd.streams import rootfs
from tests.support.boot import boot_to

MARKER = "LKCLOUD-INITRD-OK"
EXPECTED = MARKER + " from-cpio"


BASE = [
    Entry("boot", DIR, 0o755), Entry("boot/kernel", REG, 0o644, data=b"KERNEL"),
    Entry("boot/cmdline", REG, 0o644, data=b"console=ttyS0"), Entry("boot/ucode.cpio", REG, 0o644, data=b"UCODE!!!"),
    Entry("boot/System.map", REG, 0o644, data=b"dropped"),
    Entry("bin", DIR, 0o755), Entry("bin/sh", REG, 0o755, uid=0, gid=0, mtime=5, data=b"shell"),
    Entry("bin/ash", HARDLINK, 0o755, linkname="bin/sh"),
    Entry("usr/lib/deep/file", REG, 0o600, uid=1000, gid=100, data=b"deep"),
    Entry("usr/lib/deep/hl", HARDLINK, 0o600, linkname="bin/sh"),
    Entry("dev", DIR, 0o755), Entry("dev/console", CHAR, 0o600, devmajor=5, devminor=1),
    Entry("etc", DIR, 0o755), Entry("etc/x", REG, 0o644, data=b"first"), Entry("etc/x", REG, 0o640, data=b"second"),
    Entry("etc/mtab", SYMLINK, 0o777, linkname="/proc/mounts"),
]


def test_cpio_layout_split_and_rules(tmp_path: Path) -> None:
    parts = build_initrd(rootfs(tmp_path / "r.tar", BASE), tmp_path, compression="none", dir_mtime=42,
                         layout="stream")
    assert parts.kernel.read_bytes() == b"KERNEL" and parts.cmdline == "console=ttyS0"
    assert parts.ucode is not None and parts.ucode.read_bytes() == b"UCODE!!!"
    combined = parts.initrd.read_bytes()
    assert combined.startswith(b"UCODE!!!") and combined[8:] == parts.initrd_only.read_bytes()
    entries = {name: (mode, uid, gid, mtime, data) for name, mode, uid, gid, mtime, data
               in read_cpio(parts.initrd_only.read_bytes())}
    names = list(entries)
    assert names == sorted(names)
    assert "boot" in entries and not any(n.startswith("boot/") for n in names)
    assert entries["bin/ash"][0] == 0o120755 and entries["bin/ash"][4] == b"sh"  # hard link -> relative symlink
    assert entries["usr/lib/deep/hl"][4] == b"../../../bin/sh"
    assert entries["usr"][0] == 0o40755 and entries["usr"][3] == 42  # missing parents added
    assert entries["usr/lib/deep/file"][1:3] == (1000, 100)
    assert entries["etc/x"] == (0o100640, 0, 0, 0, b"second")  # last one wins
    assert entries["dev/console"][0] == 0o20600
    listing = run(["cpio", "-itv", "--quiet"], input=parts.initrd_only.read_bytes()).text
    assert "dev/console" in listing and "etc/mtab -> /proc/mounts" in listing
    assert parts.kernel_digest == hashlib.sha256(b"KERNEL").hexdigest()
    assert parts.initrd_digest == hashlib.sha256(combined).hexdigest()  # taken while writing, ucode included


def test_segmented_ucode_takes_the_first_block(tmp_path: Path) -> None:
    parts = build_initrd(rootfs(tmp_path / "r.tar", BASE), tmp_path, compression="gzip")
    combined = parts.initrd.read_bytes()
    assert combined[:BLOCK] == b"UCODE!!!" + bytes(BLOCK - 8)  # the early microcode loader skips the zeros
    assert combined[BLOCK:] == parts.initrd_only.read_bytes()
    assert [(s.name, s.offset) for s in parts.segments] == [("ucode", 0), ("rootfs", BLOCK)]
    assert len(combined) % BLOCK == 0
    assert parts.initrd_digest == hashlib.sha256(combined).hexdigest()


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="initrd layout"):
        build_initrd(rootfs(tmp_path / "r.tar", BASE), tmp_path, layout="zigzag")


@pytest.mark.parametrize("layout", ["segmented", "stream"])
@pytest.mark.parametrize("compression", ["gzip", "zstd", "xz", "none"])
def test_compressions_round_trip_and_reproduce(tmp_path: Path, compression: str, layout: str) -> None:
    tar = rootfs(tmp_path / "r.tar", BASE)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = build_initrd(tar, tmp_path / "a", compression=compression, layout=layout)
    second = build_initrd(tar, tmp_path / "b", compression=compression, layout=layout)
    data = first.initrd_only.read_bytes()
    assert data == second.initrd_only.read_bytes()
    assert first.initrd_digest == second.initrd_digest == hashlib.sha256(first.initrd.read_bytes()).hexdigest()
    if layout == "stream":
        raw = {"gzip": gzip.decompress, "xz": lzma.decompress, "none": bytes,
               "zstd": lambda d: zstandard.ZstdDecompressor().decompressobj().decompress(d)}[compression](data)
    else:
        raw = b"".join(archives(data))
    assert next(e[0] for e in read_cpio(raw)) == "bin"
    if compression == "gzip":
        assert data[4:8] == b"\0\0\0\0"  # mtime 0
    if compression == "xz":
        assert data[6:8] == b"\x00\x01"  # stream flags: CRC32, the only check the kernel decodes


def test_parallel_gzip_is_one_member_and_independent_of_threads() -> None:
    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _ in range(300_000)) + b"abc" * 2_000_000
    outputs = []
    for workers in (1, 2, 3):
        out = io.BytesIO()
        gz = ParallelGzip(out, block=256 * 1024, threads=workers)
        for i in range(0, len(data), 100_000):
            gz.write(data[i : i + 100_000])
        gz.close()
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1] == outputs[2]
    member = zlib.decompressobj(31)
    assert member.decompress(outputs[0]) == data and member.eof and member.unused_data == b""
    empty = io.BytesIO()
    ParallelGzip(empty).close()
    assert gzip.decompress(empty.getvalue()) == b""


def _boot_files(tmp_path: Path) -> tuple[bytes, bytes]:
    kernel_pkg = debian.resolve_alias("linux-image-cloud-amd64")
    tree = debian.fetch_tree([kernel_pkg, "busybox-static"], tmp_path / "debs")
    vmlinuz = sorted((tree / "boot").glob("vmlinuz-*"))[0]
    return vmlinuz.read_bytes(), (tree / "bin" / "busybox").read_bytes()


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_busybox_initrd_boots(tmp_path: Path, compression: str) -> None:
    kernel, busybox = _boot_files(tmp_path)
    init = (f"#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n"
            f"/bin/busybox echo {MARKER} $(/bin/busybox cat /etc/x)\n/bin/busybox poweroff -f\n")
    entries = [
        Entry("boot", DIR, 0o755), Entry("boot/kernel", REG, 0o644, data=kernel),
        Entry("boot/cmdline", REG, 0o644, data=b"console=ttyS0"),
        Entry("bin/busybox", REG, 0o755, data=busybox), Entry("bin/sh", HARDLINK, 0o755, linkname="bin/busybox"),
        Entry("init", REG, 0o755, data=init.encode()), Entry("proc", DIR, 0o755),
        Entry("dev/console", CHAR, 0o600, devmajor=5, devminor=1), Entry("etc/x", REG, 0o644, data=b"from-cpio"),
    ]
    parts = build_initrd(rootfs(tmp_path / "r.tar", entries), tmp_path, compression=compression)
    prefix = tmp_path / "vm"
    for suffix, source in (("-kernel", parts.kernel), ("-initrd.img", parts.initrd)):
        Path(f"{prefix}{suffix}").symlink_to(source)
    Path(f"{prefix}-cmdline").write_text("console=ttyS0 panic=-1\n")
    assert EXPECTED in boot_to(prefix, EXPECTED, tmp_path / "state")


def _ucode_cpio(tmp_path: Path) -> bytes:
    """An uncompressed newc archive holding a harmless file where the early loader looks."""
    tree = tmp_path / "ucode"
    (tree / "kernel" / "x86" / "microcode").mkdir(parents=True)
    (tree / "kernel" / "x86" / "microcode" / "lkcloud-test").write_text("ucode")
    names = ["kernel", "kernel/x86", "kernel/x86/microcode", "kernel/x86/microcode/lkcloud-test"]
    return run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--reproducible", "--quiet"], cwd=tree,
               input=("\n".join(names) + "\n").encode()).stdout


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.parametrize("compression", ["gzip", "xz", "none"])
def test_segmented_initrd_with_ucode_boots(tmp_path: Path, compression: str) -> None:
    """The kernel unpacks the ucode archive, the zeros after it, and one archive per component."""
    kernel, busybox = _boot_files(tmp_path)
    show = " ".join(f"$(/bin/busybox cat {path})" for path in
                    ("/etc/x", "/lib/modules/x/mod.txt", "/containers/onboot/000-a/lower/hello",
                     "/kernel/x86/microcode/lkcloud-test"))
    init = f"#!/bin/busybox sh\n/bin/busybox echo {MARKER} {show}\n/bin/busybox poweroff -f\n"
    entries = [
        Entry("boot/kernel", REG, 0o644, data=kernel, location="kernel"),
        Entry("boot/cmdline", REG, 0o644, data=b"console=ttyS0", location="kernel"),
        Entry("boot/ucode.cpio", REG, 0o644, data=_ucode_cpio(tmp_path), location="kernel"),
        Entry("lib/modules/x/mod.txt", REG, 0o644, data=b"modules", location="kernel"),
        Entry("bin/busybox", REG, 0o755, data=busybox, location="init[0]"),
        Entry("bin/sh", HARDLINK, 0o755, linkname="bin/busybox", location="init[0]"),
        Entry("init", REG, 0o755, data=init.encode(), location="init[0]"),
        Entry("dev/console", CHAR, 0o600, devmajor=5, devminor=1, location="init[0]"),
        Entry("containers/onboot/000-a/lower/hello", REG, 0o644, data=b"onboot", location="onboot[0]"),
        Entry("etc/x", REG, 0o644, data=b"from-cpio", location="files[0]"),
    ]
    parts = build_initrd(rootfs(tmp_path / "r.tar", entries), tmp_path, compression=compression)
    assert [s.name for s in parts.segments] == ["ucode", "kernel", "init[0]", "onboot[0]", "files"]
    prefix = tmp_path / "vm"
    for suffix, source in (("-kernel", parts.kernel), ("-initrd.img", parts.initrd)):
        Path(f"{prefix}{suffix}").symlink_to(source)
    Path(f"{prefix}-cmdline").write_text("console=ttyS0 panic=-1\n")
    expected = f"{MARKER} from-cpio modules onboot ucode"
    assert expected in boot_to(prefix, expected, tmp_path / "state")
