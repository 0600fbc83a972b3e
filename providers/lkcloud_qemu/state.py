"""A VM's state directory: its pid, console log, QEMU command line and description.

One directory per VM (default ``.lkcloud/qemu/<name>``)::

    instance.json   name, image, published ports, accelerator, start time
    argv.json       the exact QEMU command line
    qemu.pid        QEMU's pid (its process group: QEMU runs in its own session)
    console.log     the serial console
    qemu.log        QEMU's own stdout/stderr
    cidata.iso      the metadata CD, when user data was given

A fleet of N VMs is N such directories under one root (``<root>/<fleet>-<i>``); :func:`list_vms`
finds them all. A pid is trusted only while ``/proc/<pid>/cmdline`` equals the recorded argv, so
a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, TimeoutExceededError
from lkcloud.fsutil import atomic_output
from lkcloud.provider.calls import wait_local

INSTANCE = "instance.json"
ARGV = "argv.json"
PID = "qemu.pid"
CONSOLE = "console.log"
QEMU_LOG = "qemu.log"
CIDATA = "cidata.iso"
STALE = (PID, CONSOLE, QEMU_LOG, CIDATA)
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class VmRecord:
    """What ``instance.json`` says about a VM, plus whether it runs now."""

    name: str
    image: str
    state_dir: Path
    ports: tuple[tuple[int, int], ...] = ()  # (host, guest)
    accel: str = ""
    started: str = ""
    pid: int | None = None
    running: bool = False

    @property
    def port(self) -> int | None:
        return self.ports[0][0] if self.ports else None


def _write_json(path: Path, value: Any) -> None:
    with atomic_output(path) as fh:
        fh.write(json.dumps(value, indent=2, sort_keys=True).encode() + b"\n")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def recorded_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID).read_text().strip())
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if status.rpartition(")")[2].split()[:1] == ["Z"]:
        return None  # exited, not yet reaped
    return raw.decode(errors="replace").split("\0")[:-1]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie counts as gone, and is reaped
    when it is this process's child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return _cmdline(pid) is not None


def running_pid(state_dir: Path) -> int | None:
    """The pid of this directory's QEMU if it still runs (and is the process recorded here)."""
    pid = recorded_pid(state_dir)
    argv = _read_json(state_dir / ARGV)
    if pid is None or not isinstance(argv, list) or not alive(pid):
        return None
    return pid if _cmdline(pid) == argv else None


def claim(state_dir: Path) -> Path:
    """Make ``state_dir`` ready for a new VM: refuses while one runs there, clears old files."""
    pid = running_pid(state_dir)
    if pid is not None:
        raise ProviderError(f"a VM is already running from {state_dir} (pid {pid})",
                            hint=f"stop it first: lkcloud run qemu --stop {state_dir}")
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in STALE:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()
    return state_dir


def record(state_dir: Path, *, name: str, image: str, argv: list[str], ports: list[tuple[int, int]],
           accel: str, pid: int | None) -> None:
    """Record a started VM (``pid`` None for a foreground VM that lkcloud itself waits for)."""
    _write_json(state_dir / ARGV, argv)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _write_json(state_dir / INSTANCE, {"name": name, "image": image, "ports": ports, "accel": accel,
                                       "started": started})
    if pid is not None:
        with atomic_output(state_dir / PID) as fh:
            fh.write(f"{pid}\n".encode())


def read(state_dir: Path) -> VmRecord | None:
    """The VM recorded in ``state_dir``, or None when it holds none."""
    info = _read_json(state_dir / INSTANCE)
    if not isinstance(info, dict):
        return None
    pid = running_pid(state_dir)
    ports = tuple((int(h), int(g)) for h, g in info.get("ports", []))
    return VmRecord(name=str(info.get("name", state_dir.name)), image=str(info.get("image", "")),
                    state_dir=state_dir, ports=ports, accel=str(info.get("accel", "")),
                    started=str(info.get("started", "")), pid=pid or recorded_pid(state_dir),
                    running=pid is not None)


def list_vms(root: Path) -> list[VmRecord]:
    """Every VM recorded under ``root`` (one level of directories), sorted by name."""
    if not root.is_dir():
        return []
    found = (read(child) for child in sorted(root.iterdir()) if child.is_dir())
    return [vm for vm in found if vm is not None]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _gone_within(pid: int, seconds: float) -> bool:
    try:
        wait_local(f"pid {pid} to exit", lambda: alive(pid), lambda running: not running, timeout=seconds,
                   poll_min=0.02, poll_max=0.5)
    except TimeoutExceededError:
        return False
    return True


def stop(state_dir: Path, timeout: float = STOP_SECONDS) -> bool:
    """Stop this directory's VM: SIGTERM to its process group, SIGKILL after ``timeout``.

    Returns False when no VM was running there.
    """
    pid = running_pid(state_dir)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    if not _gone_within(pid, timeout):
        _signal_group(pid, signal.SIGKILL)
        if not _gone_within(pid, timeout):
            raise ProviderError(f"QEMU (pid {pid}) from {state_dir} did not stop")
    with contextlib.suppress(FileNotFoundError):
        (state_dir / PID).unlink()
    return True
