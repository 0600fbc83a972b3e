"""State directories: recording, trusting a pid only for its own command line, stopping."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.errors import ProviderError
from lkcloud.process import spawn
from lkcloud_qemu import state


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in for QEMU: a long sleep in its own session."""
    proc = spawn(["sleep", "300"], stdout=subprocess.DEVNULL, new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _record(state_dir: Path, argv: list[str], pid: int) -> None:
    state.claim(state_dir)
    state.record(state_dir, name=state_dir.name, image="/i/hello-kernel", argv=argv, ports=[(2222, 22)],
                 accel="tcg", pid=pid)


def test_record_read_and_stop(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    state_dir = tmp_path / "vm"
    argv = [str(a) for a in sleeper.args]  # type: ignore[union-attr]
    _record(state_dir, argv, sleeper.pid)
    assert json.loads((state_dir / state.ARGV).read_text()) == argv
    record = state.read(state_dir)
    assert record is not None and record.running and record.pid == sleeper.pid
    assert record.port == 2222 and record.image == "/i/hello-kernel" and record.accel == "tcg"
    with pytest.raises(ProviderError, match="already running"):
        state.claim(state_dir)
    assert state.stop(state_dir, timeout=10)
    assert sleeper.poll() is not None
    assert not state.stop(state_dir)
    record = state.read(state_dir)
    assert record is not None and not record.running


def test_a_recycled_pid_is_never_signalled(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    state_dir = tmp_path / "vm"
    _record(state_dir, ["/usr/bin/qemu-system-x86_64", "-name", "other"], sleeper.pid)
    assert state.running_pid(state_dir) is None
    assert not state.stop(state_dir)
    assert sleeper.poll() is None


def test_claim_clears_old_run_files(tmp_path: Path) -> None:
    state_dir = tmp_path / "vm"
    state_dir.mkdir()
    for name in (state.CONSOLE, state.PID, state.CIDATA):
        (state_dir / name).write_text("old")
    state.claim(state_dir)
    assert list(state_dir.iterdir()) == []


def test_list_vms(tmp_path: Path) -> None:
    for name in ("b", "a"):
        _record(tmp_path / name, ["x"], 1)
    (tmp_path / "not-a-vm").mkdir()
    assert [vm.name for vm in state.list_vms(tmp_path)] == ["a", "b"]
    assert not any(vm.running for vm in state.list_vms(tmp_path))
    assert state.list_vms(tmp_path / "missing") == []
