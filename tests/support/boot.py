"""Boot an image under QEMU TCG with lkcloud's own runner (providers/lkcloud_qemu) until a
marker shows on the serial console; QEMU is stopped whatever happens."""

from __future__ import annotations

import re
from pathlib import Path

from lkcloud.platform import Arch, BootMode
from lkcloud_qemu import launch, state, vm

BOOT_TIMEOUT = 300.0  # TCG on a loaded 2-core host; a boot itself takes 3-30 s


def boot_to(image: str | Path, marker: str, state_root: Path, *, boot: BootMode | None = None,
            timeout: float = BOOT_TIMEOUT, user_data: bytes | None = None, cmdline: str = "",
            arch: Arch | None = None) -> str:
    """Boot ``image`` (a disk, an ISO or a NAME prefix) until ``marker``; returns the console text.

    Raises lkcloud_qemu's BootFailedError, which carries the console tail, when it does not show."""
    options = vm.VmOptions(image=str(image), boot=boot, accel="tcg", user_data=user_data, cmdline=cmdline, arch=arch)
    prepared = vm.prepare(options, state_root)
    launch.run_until(prepared, re.escape(marker), timeout)
    return (prepared.state_dir / state.CONSOLE).read_text(errors="replace")
