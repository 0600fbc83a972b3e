"""Atomic outputs and digests taken while writing."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from lkcloud.fsutil import atomic_output, atomic_path, hashing_writer


def test_atomic_path_yields_a_new_file_with_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "out" / "disk.vmdk"
    with atomic_path(target, mode=0o600) as tmp:
        assert tmp.name == target.name and tmp.parent != target.parent
        assert not tmp.exists()  # created by the writer, never truncated
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o600
    assert os.listdir(target.parent) == ["disk.vmdk"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "disk.img"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["disk.img"]


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as fh:
        fh.write(b"{")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_hashing_writer_digests_what_reaches_the_file() -> None:
    out = io.BytesIO()
    first, second = hashlib.sha256(b"prefix"), hashlib.sha256()
    with hashing_writer(out, first, second) as writer:
        for chunk in (b"a" * 10, b"b" * (3 << 20), memoryview(b"tail")):
            writer.write(chunk)
    data = out.getvalue()
    assert data == b"a" * 10 + b"b" * (3 << 20) + b"tail"
    assert second.hexdigest() == hashlib.sha256(data).hexdigest()
    assert first.hexdigest() == hashlib.sha256(b"prefix" + data).hexdigest()
    assert not out.closed  # the underlying file stays the caller's
