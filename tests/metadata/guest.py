"""Booting examples/metadata.yml with the metadata addresses served by fakes on the host.

QEMU's user network is put on 169.254.0.0/16 so that a ``guestfwd`` can serve the real address
169.254.169.254:80 (slirp forwards only addresses inside its network): each guest connection runs
``busybox nc`` to the fake server's port. The host's 127.0.0.1 is 169.254.0.2 to the guest, which is
how the guest reaches the fake WireServer. ``lkcloud run qemu`` has no flag for this, so the test
adds it to the ``-nic`` option of the command line the provider builds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lkcloud.process import spawn, which
from lkcloud_qemu import launch, vm
from lkcloud_qemu.console import ConsoleReader, clean, wait_for
from lkcloud_qemu.machine import QEMU, argv

GUEST_NET = "169.254.0.0/16"
HOST_FROM_GUEST = "169.254.0.2"
METADATA_ADDRESS = "169.254.169.254"
BOOT_TIMEOUT = 300.0  # TCG on a shared 2-core host; the boot itself takes 10-60 s
MARKER = r"greeter: .*\n"


def _with_metadata_forward(command: list[str], port: int) -> list[str]:
    nc = f"{which('busybox')} nc 127.0.0.1 {port}"
    index = command.index("-nic") + 1
    command[index] += f",net={GUEST_NET},host={HOST_FROM_GUEST},guestfwd=tcp:{METADATA_ADDRESS}:80-cmd:{nc}"
    return command


def boot(image: Path, state: Path, port: int, cmdline: str = "") -> str:
    """Boot until the greeter service prints, with 169.254.169.254:80 served by 127.0.0.1:``port``;
    returns the console text."""
    options = vm.VmOptions(image=str(image), state_dir=state, mem=512, accel="tcg", cmdline=cmdline)
    prepared = vm.prepare(options, state.parent)
    command = _with_metadata_forward(argv(prepared.machine, which(QEMU)), port)
    console = prepared.machine.console
    assert console is not None
    with (state / "qemu.log").open("wb") as log:
        proc = spawn(command, stdout=log.fileno(), stderr=subprocess.STDOUT)
    try:
        wait_for(ConsoleReader(console), MARKER, timeout=BOOT_TIMEOUT, exited=proc.poll)
    finally:
        launch.kill(proc)
    return clean(console.read_text(errors="replace"))
