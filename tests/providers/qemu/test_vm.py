"""Preparing a VM without starting it: disks, metadata CD, ports, state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.process import run
from lkcloud_qemu import cidata, state
from lkcloud_qemu.machine import Disk, Forward
from lkcloud_qemu.vm import VmOptions, ensure_disk, prepare


def _prefix(tmp_path: Path) -> str:
    for suffix in ("-kernel", "-initrd.img"):
        (tmp_path / f"hello{suffix}").write_bytes(b"x")
    return str(tmp_path / "hello")


def test_missing_disk_is_created_with_its_size(tmp_path: Path) -> None:
    disk = ensure_disk(Disk(tmp_path / "data.qcow2", size="64M"))
    info = json.loads(run(["qemu-img", "info", "--output=json", disk.path]).text)
    assert (info["format"], info["virtual-size"]) == ("qcow2", 64 << 20)
    assert disk.format == "qcow2" and disk.path.is_absolute()
    assert ensure_disk(Disk(tmp_path / "data.qcow2")).format == "qcow2"  # existing: used as is
    assert ensure_disk(Disk(tmp_path / "new", size="1M")).format == "qcow2"
    assert ensure_disk(Disk(tmp_path / "new.img", size="1M")).format == "raw"


def test_missing_disk_without_size(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file") as info:
        ensure_disk(Disk(tmp_path / "nope.qcow2"))
    assert info.value.hint is not None and "size=" in info.value.hint


def test_prepare(tmp_path: Path) -> None:
    options = VmOptions(image=_prefix(tmp_path), accel="tcg", forwards=(Forward(0, 22), Forward(8080, 80)),
                        user_data=b'{"a":{"content":"b"}}', cmdline="debug")
    prepared = prepare(options, tmp_path / "state")
    machine = prepared.machine
    assert prepared.state_dir == (tmp_path / "state" / "hello").resolve()
    assert machine.name == "hello" and machine.cmdline == "debug"
    assert machine.console == prepared.state_dir / state.CONSOLE
    host, fixed = machine.forwards
    assert host.host > 0 and host.guest == 22 and fixed == Forward(8080, 80)
    assert machine.cidata == prepared.state_dir / state.CIDATA
    assert cidata.read_file(machine.cidata, "user-data") == options.user_data
    assert prepare(options, tmp_path / "state", console=False).machine.console is None


def test_prepare_checks_sizes(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--mem 8"):
        prepare(VmOptions(image=_prefix(tmp_path), mem=8), tmp_path)
    with pytest.raises(UsageError, match="--cpus 0"):
        prepare(VmOptions(image=_prefix(tmp_path), cpus=0), tmp_path)
