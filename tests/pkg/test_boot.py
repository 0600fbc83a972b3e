"""End to end: pkg build the packages, lkcloud build examples/hello.yml, boot it under QEMU."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from lkcloud.build import BuildOptions, build
from lkcloud.oci.store import ImageStore
from lkcloud.pkg.build import PackageResult
from lkcloud.process import spawn
from tests.pkg.conftest import ROOT
from tests.support.net import stop

pytestmark = [pytest.mark.slow, pytest.mark.boot]

MARKERS = ("hello from onboot", "hello from service")
BOOT_TIMEOUT = 300.0  # TCG on a shared 2-core host; the boot itself takes 5-30 s


def wait_for_markers(proc: subprocess.Popen[bytes], console: Path, deadline: float) -> str:
    text = ""
    while time.monotonic() < deadline:
        text = console.read_text(errors="replace")
        if all(marker in text for marker in MARKERS) or proc.poll() is not None:
            break
        time.sleep(0.5)
    return console.read_text(errors="replace")


def test_hello_boots(built: tuple[ImageStore, dict[str, PackageResult]], tmp_path: Path) -> None:
    store, _ = built
    result = build(BuildOptions(files=(ROOT / "examples" / "hello.yml",), outdir=tmp_path, cache=store.root))
    kernel, initrd, cmdline = (next(p for p in result.outputs["kernel+initrd"] if p.name.endswith(suffix))
                               for suffix in ("-kernel", "-initrd.img", "-cmdline"))
    console = tmp_path / "console.log"
    with console.open("wb") as out:
        proc = spawn(["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
                      "-kernel", kernel, "-initrd", initrd, "-append", cmdline.read_text().strip(),
                      "-nic", "user,model=virtio-net-pci"], stdout=out, stderr=subprocess.STDOUT)
        try:
            text = wait_for_markers(proc, console, time.monotonic() + BOOT_TIMEOUT)
        finally:
            stop(proc)
    for marker in MARKERS:
        assert marker in text, f"{marker!r} not on the console:\n{text[-3000:]}"
    assert "lkcloud-init: onboot 000-hello" in text
