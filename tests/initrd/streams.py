"""Root filesystem streams for the initrd and layout tests: a tar written as the build writes it,
and a LinuxKit-like stream whose components carry their location records."""

from __future__ import annotations

import random
from pathlib import Path

from lkcloud.assemble.stream import TarSink
from lkcloud.oci.unpack import DIR, HARDLINK, REG, SYMLINK, Entry


def rootfs(path: Path, entries: list[Entry]) -> Path:
    """``entries`` written to ``path`` as the build's root filesystem tar."""
    with path.open("wb") as fh:
        sink = TarSink(fh)
        for entry in entries:
            sink.add(entry)
        sink.close()
    return path


def noise(seed: int, size: int) -> bytes:
    """Incompressible bytes, so that compressed sizes are predictable."""
    return random.Random(seed).randbytes(size)


def entries(function: bytes = b"echo hello\n", service_size: int = 300_000) -> list[Entry]:
    """A LinuxKit-like stream: kernel modules, two init images, two onboot images, a service, files."""
    return [
        Entry("boot/kernel", REG, 0o644, data=b"KERNEL", location="kernel"),
        Entry("boot/cmdline", REG, 0o644, data=b"console=ttyS0", location="kernel"),
        Entry("lib/modules/6.1/kernel/fs/overlay.ko", REG, 0o644, data=noise(1, 700_000), location="kernel"),
        Entry("bin", DIR, 0o755, location="init[0]"),
        Entry("bin/busybox", REG, 0o755, data=noise(2, 900_000), location="init[0]"),
        Entry("bin/sh", HARDLINK, 0o755, linkname="bin/busybox", location="init[0]"),
        Entry("etc", DIR, 0o755, location="init[0]"),
        Entry("etc/hosts", REG, 0o644, data=b"127.0.0.1 localhost\n", location="init[0]"),
        Entry("usr/bin/runc", REG, 0o755, data=noise(3, 400_000), location="init[1]"),
        Entry("etc/hosts", REG, 0o600, data=b"overridden by init[1]\n", location="init[1]"),
        Entry("lib/apk/db/installed", REG, 0o644, data=b"merged\n", location="init"),
        Entry("containers/onboot/000-dhcp/config.json", REG, 0o644, data=b"{}", location="onboot[0]"),
        Entry("containers/onboot/000-dhcp/lower/bin/dhcp", REG, 0o755, data=noise(4, 200_000),
              location="onboot[0]"),
        Entry("containers/onboot/001-functions/lower/functions/hello", REG, 0o755, data=function,
              location="onboot[1]"),
        Entry("containers/onboot/001-functions/lower/bin/busybox", REG, 0o755, data=noise(5, 600_000),
              location="onboot[1]"),
        Entry("containers/services/faas/lower/usr/bin/faas", REG, 0o755, data=noise(6, service_size),
              location="services[0]"),
        Entry("containers/services/faas/lower/etc/resolv.conf", SYMLINK, 0o777,
              linkname="/run/resolvconf/resolv.conf", location="services[0]"),
        Entry("etc/faas", DIR, 0o755, location="files[0]"),
        Entry("etc/faas/version", REG, 0o644, data=b"1", location="files[0]"),
    ]
