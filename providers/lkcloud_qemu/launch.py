"""Starting and stopping QEMU: on the terminal, detached, or until the console shows a marker.

A detached or watched QEMU runs in its own session, so its whole process group can be killed;
every path that gives up on a VM (failure, timeout, Ctrl-C) kills it before returning.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import ProviderError
from lkcloud.process import spawn, which
from lkcloud_qemu import machine as qemu_machine
from lkcloud_qemu import state
from lkcloud_qemu.console import ConsoleReader, Matched, wait_for
from lkcloud_qemu.vm import Prepared

# A QEMU that rejects its command line exits at once; a detached start waits this long to tell.
EARLY_EXIT_SECONDS = 0.5
KILL_SECONDS = 5.0


@dataclass(frozen=True)
class Started:
    """A detached VM: where its state is, its pid and its published ports (host, guest)."""

    name: str
    state_dir: Path
    pid: int
    ports: tuple[tuple[int, int], ...]
    console: Path

    @property
    def port(self) -> int | None:
        return self.ports[0][0] if self.ports else None


def _argv(prepared: Prepared) -> list[str]:
    return qemu_machine.argv(prepared.machine, which(prepared.machine.board.qemu))


def _ports(prepared: Prepared) -> list[tuple[int, int]]:
    return [(f.host, f.guest) for f in prepared.machine.forwards]


def kill(proc: subprocess.Popen[bytes], timeout: float = KILL_SECONDS) -> None:
    """Stop a QEMU started in its own session: SIGTERM to the group, then SIGKILL; reaps it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)


def _qemu_log_tail(prepared: Prepared) -> str:
    try:
        lines = (prepared.state_dir / state.QEMU_LOG).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(lines[-5:])


@contextlib.contextmanager
def killed_on_error(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill ``proc`` if the block raises anything, Ctrl-C included."""
    try:
        yield
    except BaseException:
        kill(proc)
        raise


def start(prepared: Prepared) -> tuple[Started, subprocess.Popen[bytes]]:
    """Start QEMU detached (own session, console in the state directory) and record it."""
    argv = _argv(prepared)
    with (prepared.state_dir / state.QEMU_LOG).open("wb") as log:
        proc = spawn(argv, stdout=log.fileno(), stderr=log.fileno(), new_session=True)
    with killed_on_error(proc):
        state.record(prepared.state_dir, name=prepared.machine.name, image=prepared.image, argv=argv,
                     ports=_ports(prepared), accel=prepared.machine.accel.value, pid=proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = proc.wait(EARLY_EXIT_SECONDS)
            detail = _qemu_log_tail(prepared)
            raise ProviderError(f"qemu exited at once with status {code}" + (f": {detail}" if detail else ""),
                                hint=f"its output is in {prepared.state_dir / state.QEMU_LOG}")
    console = prepared.state_dir / state.CONSOLE
    started = Started(prepared.machine.name, prepared.state_dir, proc.pid, tuple(_ports(prepared)), console)
    return started, proc


def wait(started: Started, proc: subprocess.Popen[bytes], regex: str, timeout: float,
         echo: Callable[[bytes], None] | None = None) -> Matched:
    """Wait for ``regex`` on the console of a VM this process started; kills it on failure."""
    reader = ConsoleReader(started.console, echo)
    with killed_on_error(proc):
        return wait_for(reader, regex, timeout=timeout, exited=proc.poll)


def run_until(prepared: Prepared, regex: str, timeout: float,
              echo: Callable[[bytes], None] | None = None) -> Matched:
    """Boot, wait for ``regex`` on the console, and stop the VM whatever happened."""
    started, proc = start(prepared)
    try:
        return wait(started, proc, regex, timeout, echo)
    finally:
        kill(proc)


def run_interactive(prepared: Prepared) -> int:
    """QEMU in the foreground with the serial console on the terminal; returns its exit status."""
    argv = _argv(prepared)
    proc = spawn(argv, stdin=None, stdout=None, stderr=None, new_session=False)
    state.record(prepared.state_dir, name=prepared.machine.name, image=prepared.image, argv=argv,
                 ports=_ports(prepared), accel=prepared.machine.accel.value, pid=proc.pid)
    try:
        return proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_SECONDS)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
