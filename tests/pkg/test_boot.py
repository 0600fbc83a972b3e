"""End to end: pkg build the packages, lkcloud build examples/hello.yml, boot it under QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.boot import boot_to
from tests.support.hello import ONBOOT_MARKER, SERVICE_MARKER, Hello

pytestmark = [pytest.mark.slow, pytest.mark.boot]


def test_hello_boots(hello: Hello, tmp_path: Path) -> None:
    text = boot_to(hello.prefix, SERVICE_MARKER, tmp_path)
    assert ONBOOT_MARKER in text
    assert "lkcloud-init: onboot 000-hello" in text
    # Both lines come from runc inside the VM, running the bundles lkcloud build wrote.
    assert text.index(ONBOOT_MARKER) < text.index(SERVICE_MARKER)
