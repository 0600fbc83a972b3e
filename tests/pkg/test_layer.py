"""Layer tars: sorted, owner 0:0, fixed mtime, normalised modes, byte-identical on rebuild."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from lkcloud.pkg import layer
from lkcloud.pkg.tree import parents


def sources(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    tool = src / "tool"
    tool.write_bytes(b"#!/bin/sh\n")
    tool.chmod(0o750)
    data = src / "data"
    data.write_bytes(b"x" * 1000)
    data.chmod(0o600)
    os.symlink("tool", src / "link")
    return {"usr/bin/tool": tool, "etc/data": data, "usr/bin/link": src / "link"}


def test_layer_is_normalised(tmp_path: Path) -> None:
    entries = sources(tmp_path)
    out = layer.write_layer(entries, tmp_path / "layer.tar", directories=parents(entries), mtime=1234)
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["etc", "etc/data", "usr", "usr/bin", "usr/bin/link", "usr/bin/tool"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 1234)}
    modes = {m.name: m.mode for m in members}
    assert modes["usr"] == 0o755 and modes["etc/data"] == 0o644 and modes["usr/bin/tool"] == 0o755
    assert members[4].issym() and members[4].linkname == "tool"


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    entries = sources(tmp_path)
    one = layer.write_layer(entries, tmp_path / "one.tar", directories=parents(entries))
    (tmp_path / "src" / "data").chmod(0o644)  # a different umask or checkout changes nothing
    two = layer.write_layer(dict(reversed(entries.items())), tmp_path / "two.tar", directories=parents(entries))
    assert one.read_bytes() == two.read_bytes()


def test_source_date_epoch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert layer.source_date_epoch() == 1492533000  # 2017-04-18 16:30:00 UTC, as LinuxKit
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    entries = sources(tmp_path)
    out = layer.write_layer(entries, tmp_path / "layer.tar", directories=parents(entries))
    with tarfile.open(out) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
