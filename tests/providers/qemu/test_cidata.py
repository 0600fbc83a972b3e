"""The metadata CD: label cidata, files config and user-data, reproducible bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud_qemu import cidata

DATA = b'{"ssh":{"entries":{"authorized_keys":{"perm":"0600","content":"ssh-ed25519 AAAA test"}}}}'


def test_label_and_files(tmp_path: Path) -> None:
    iso = cidata.write_iso(DATA, tmp_path / "cidata.iso")
    label, names = cidata.list_iso(iso)
    assert label == "cidata"
    assert names == ["config", "user-data"]
    assert cidata.read_file(iso, "user-data") == DATA
    assert cidata.read_file(iso, "config") == DATA


def test_same_data_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = cidata.write_iso(DATA, tmp_path / "a.iso").read_bytes()
    second = cidata.write_iso(DATA, tmp_path / "b.iso").read_bytes()
    assert first == second
    assert cidata.write_iso(DATA + b" ", tmp_path / "c.iso").read_bytes() != first


def test_overwrites_an_existing_iso(tmp_path: Path) -> None:
    iso = tmp_path / "cidata.iso"
    cidata.write_iso(b"old", iso)
    cidata.write_iso(b"new", iso)
    assert cidata.read_file(iso, "user-data") == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cidata.iso"]
