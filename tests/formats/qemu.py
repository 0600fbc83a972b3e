"""Boot a disk or ISO under QEMU TCG and wait for the marker on the serial console."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from lkcloud.process import spawn

OVMF = Path("/usr/share/ovmf/OVMF.fd")
FIRMWARE = {"bios": [], "uefi": ["-bios", str(OVMF)]}
BOOT_TIMEOUT = 180.0


def drive(path: Path, fmt: str = "raw", interface: str = "virtio") -> list[str]:
    return ["-drive", f"file={path},format={fmt},if={interface},snapshot=on"]


def boot(media: Sequence[str], firmware: str, marker: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Run QEMU until ``marker`` shows on the serial console (or timeout); returns the console text.

    QEMU runs in its own session and is killed by its PID's process group either way.
    """
    argv = [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-no-reboot",
        "-nic",
        "none",
        *FIRMWARE[firmware],
        *media,
    ]
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while marker.encode() not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    return output.decode(errors="replace")
