"""End to end: pkg build the packages, lkcloud build examples/hello.yml, boot it under QEMU; for
amd64, and for arm64 from this amd64 machine (Debian's arm64 packages, TCG on the virt board)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.platform import Arch
from tests.support.boot import boot_to
from tests.support.hello import ONBOOT_MARKER, SERVICE_MARKER, Hello

pytestmark = [pytest.mark.slow, pytest.mark.boot]


def test_hello_boots(hello: Hello, tmp_path: Path) -> None:
    text = boot_to(hello.prefix, SERVICE_MARKER, tmp_path)
    assert ONBOOT_MARKER in text
    assert "lkcloud-init: onboot 000-hello" in text
    # Both lines come from runc inside the VM, running the bundles lkcloud build wrote.
    assert text.index(ONBOOT_MARKER) < text.index(SERVICE_MARKER)


def test_hello_boots_on_arm64(hello_arm64: Hello, tmp_path: Path) -> None:
    """kernel+initrd, direct boot: the architecture comes from the kernel, no --arch needed."""
    text = boot_to(hello_arm64.prefix, SERVICE_MARKER, tmp_path)
    assert ONBOOT_MARKER in text and text.index(ONBOOT_MARKER) < text.index(SERVICE_MARKER)


def test_hello_raw_efi_boots_on_arm64(hello_arm64: Hello, tmp_path: Path) -> None:
    """The raw-efi disk: AAVMF starts BOOTAA64.EFI, the UKI on systemd-boot's arm64 stub."""
    disk = Path(f"{hello_arm64.prefix}-efi.img")
    text = boot_to(disk, SERVICE_MARKER, tmp_path, arch=Arch.ARM64)
    assert ONBOOT_MARKER in text
