"""Real boots under QEMU (TCG here): marker, panic, detach + port forward + stop, metadata CD, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from lkcloud.cli.main import main
from lkcloud.provider.types import RunRequest
from lkcloud_qemu import accel, state
from lkcloud_qemu.config import QemuConfig
from lkcloud_qemu.console import ConsoleReader, wait_for
from lkcloud_qemu.machine import Forward
from lkcloud_qemu.provider import QemuProvider, RunOptions
from tests.providers.qemu import guest
from tests.support.net import free_port

pytestmark = [pytest.mark.slow, pytest.mark.boot]

BOOT_TIMEOUT = "180"  # generous: the host is shared; a boot takes 2-5 s under TCG


def _argv(state_dir: Path) -> list[str]:
    return list(json.loads((state_dir / state.ARGV).read_text()))


def _assert_gone(pid: int | None) -> None:
    assert pid is not None
    assert not state.alive(pid), f"qemu pid {pid} is still running"


def test_boots_kernel_initrd_to_marker(guest_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "vm"
    code = main(["run", "qemu", guest_image, "--state", str(state_dir), "--wait-for", "TEST-BOOT-O.",
                 "--timeout", BOOT_TIMEOUT])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert guest.MARKER in out.out  # the console is shown while waiting
    assert str(state_dir) in out.err
    argv = _argv(state_dir)
    expected = "tcg" if accel.kvm_problem() else "kvm"
    assert argv[argv.index("-accel") + 1] == expected
    assert argv[argv.index("-m") + 1] == "1024"
    _assert_gone(state.recorded_pid(state_dir))


def test_panicking_guest_fails_with_console_tail(guest_image: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "vm"
    code = main(["run", "qemu", guest_image, "--state", str(state_dir), "--cmdline", "lkmode=panic",
                 "--wait-for", guest.MARKER, "--timeout", BOOT_TIMEOUT])
    err = capsys.readouterr().err
    assert code == 1
    assert "exited" in err and "Kernel panic - not syncing" in err
    assert "  console | " in err
    _assert_gone(state.recorded_pid(state_dir))


def test_detach_publish_and_stop(guest_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir, port = tmp_path / "web", free_port()
    code = main(["run", "qemu", guest_image, "--state", str(state_dir), "--detach", "--cmdline", "lkmode=http",
                 "--publish", f"{port}:80", "--wait-for", guest.HTTP_READY, "--timeout", BOOT_TIMEOUT])
    assert code == 0, capsys.readouterr().err
    pid = state.running_pid(state_dir)
    try:
        assert pid is not None
        record = state.read(state_dir)
        assert record is not None and record.ports == ((port, 80),)
        retrying = Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True)
        body = retrying(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=5).text)
        assert guest.HTTP_BODY in body
    finally:
        assert main(["run", "qemu", "--stop", str(state_dir)]) == 0
    assert "\tstopped\t" in capsys.readouterr().out
    _assert_gone(pid)


def test_provider_run_with_user_data_on_cidata(kernel_tree: guest.KernelTree, guest_initrd: Path,
                                               tmp_path: Path) -> None:
    image = guest.make_prefix(tmp_path / "images", "cd", kernel_tree.kernel, guest_initrd,
                              guest.CMDLINE + " lkmode=cidata")
    config = QemuConfig(images=tmp_path / "store", state_root=tmp_path / "state")
    provider = QemuProvider(config, RunOptions(publish=(Forward(0, 22),), detach=True))
    user_data = b'{"hostname":{"content":"cidata-test-host"}}'
    result = provider.run(RunRequest(image=image, user_data=user_data, console=True))
    (instance,) = result.instances
    state_dir = config.state_root / instance.id
    pid = state.recorded_pid(state_dir)
    try:
        assert instance.id == "cd" and instance.port is not None and instance.port > 0
        assert result.console == str(state_dir / state.CONSOLE)
        reader = ConsoleReader(state_dir / state.CONSOLE)
        exited = lambda: None if state.running_pid(state_dir) else 0  # noqa: E731
        wait_for(reader, guest.CIDATA_END, timeout=float(BOOT_TIMEOUT), exited=exited)
        shown = reader.text.split(guest.CIDATA_BEGIN)[1].split(guest.CIDATA_END)[0]
        assert user_data.decode() in shown
    finally:
        state.stop(config.state_root / instance.id)
    _assert_gone(pid)


def test_ctrl_c_stops_the_vm(guest_image: str, tmp_path: Path) -> None:
    state_dir = tmp_path / "vm"
    argv = [sys.executable, "-m", "lkcloud", "run", "qemu", guest_image, "--state", str(state_dir),
            "--cmdline", "lkmode=http", "--wait-for", "never shown", "--timeout", BOOT_TIMEOUT]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        started = Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.1), retry=retry_if_result(lambda ok: not ok))
        started(lambda: state.running_pid(state_dir) is not None)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    leftover = state.running_pid(state_dir)
    state.stop(state_dir)  # never leave a VM behind, even when the test fails
    assert proc.returncode == 130, err.decode()
    assert leftover is None, f"qemu pid {leftover} survived Ctrl-C"
