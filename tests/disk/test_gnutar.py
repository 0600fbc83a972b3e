"""The old-GNU sparse tar writer: golden header bytes, extension blocks, and GNU tar agrees."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lkcloud.disk import gnutar, sparse
from lkcloud.process import run

MIB = 1 << 20


def _checksum_ok(block: bytes) -> bool:
    stored = int(block[148:154], 8)
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:])


def test_number_fields() -> None:
    assert gnutar.number(0o644, 8) == b"0000644\0"
    assert gnutar.number(8**11 - 1, 12) == b"77777777777\0"
    big = 10 << 30  # 10 GiB does not fit 11 octal digits
    assert gnutar.number(big, 12) == b"\x80" + big.to_bytes(11, "big")


def test_golden_header_with_four_entries() -> None:
    member = gnutar.Member("disk.raw", 1 << 30, ((0, 4096), (MIB, 8192)), 1492532400)
    block = gnutar.header(member)
    assert len(block) == 512
    assert block[:8] == b"disk.raw" and block[8:100] == bytes(92)
    assert block[100:108] == b"0000644\0"
    assert block[124:136] == b"00000030000\0"  # stored bytes: 12288
    assert block[136:148] == b"13075436260\0"
    assert block[156:157] == b"S"
    assert block[257:265] == b"ustar  \0"
    assert block[386:410] == b"00000000000\0" + b"00000010000\0"
    assert block[410:434] == b"00004000000\0" + b"00000020000\0"
    assert block[434:458] == b"10000000000\0" + b"00000000000\0"  # trailing hole: zero-length entry at the end
    assert block[458:482] == bytes(24)
    assert block[482] == 0
    assert block[483:495] == b"10000000000\0"
    assert block[154:156] == b"\0 "
    assert _checksum_ok(block)


def test_extension_blocks() -> None:
    extents = tuple((i * MIB, 4096) for i in range(30))
    member = gnutar.Member("disk.raw", 64 * MIB, extents, 0)
    blocks = gnutar.header(member)
    assert len(blocks) == 3 * 512  # 4 in the header, 21 + 6 (with the end marker) in two extensions
    head, ext1, ext2 = blocks[:512], blocks[512:1024], blocks[1024:]
    assert head[482] == 1 and ext1[504] == 1 and ext2[504] == 0
    assert ext1[0:24] == gnutar.number(4 * MIB, 12) + gnutar.number(4096, 12)
    assert ext2[5 * 24 : 6 * 24] == gnutar.number(64 * MIB, 12) + gnutar.number(0, 12)
    assert _checksum_ok(head)


def test_gnu_tar_extracts_and_lists(tmp_path: Path) -> None:
    source = tmp_path / "disk.raw"
    size = 256 * MIB
    with source.open("wb") as fh:
        fh.truncate(size)
        for i in range(40):  # more than fit the header: extension blocks in use
            fh.seek(i * 5 * MIB + 512)
            fh.write(bytes([i + 1]) * (3000 + i))
    with source.open("rb") as fh:
        member = gnutar.Member("disk.raw", size, tuple(sparse.data_map(fh, size)), 1492532400)
        archive = b"".join(gnutar.stream(member, fh))
    assert len(archive) % gnutar.RECORD == 0
    tar = tmp_path / "a.tar"
    tar.write_bytes(archive)
    listing = run(["tar", "--full-time", "-tvf", tar]).text
    assert "disk.raw" in listing and str(size) in listing and "2017-04-18" in listing
    out = tmp_path / "out"
    out.mkdir()
    run(["tar", "-xf", tar, "-C", out])
    assert (out / "disk.raw").read_bytes() == source.read_bytes()
    assert (out / "disk.raw").stat().st_blocks * 512 < 4 * MIB  # GNU tar recreated the holes


def test_short_source_is_an_error() -> None:
    member = gnutar.Member("disk.raw", MIB, ((0, 4096),), 0)
    with pytest.raises(EOFError):
        b"".join(gnutar.stream(member, io.BytesIO(b"x" * 100)))
