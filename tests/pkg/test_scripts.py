"""The busybox scripts of pkg/init and pkg/runc: syntax, and the JSON flattener runtime.json needs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lkcloud.process import run
from tests.pkg.conftest import ROOT

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="busybox-static is not installed")
SCRIPTS = [
    "pkg/init/rootfs/init",
    "pkg/init/rootfs/etc/rc.shutdown",
    "pkg/runc/rootfs/usr/bin/lkcloud-bundles",
    "pkg/runc/rootfs/etc/init.d/010-onboot",
    "pkg/runc/rootfs/etc/init.d/020-services",
    "pkg/runc/rootfs/etc/shutdown.d/010-onshutdown",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert path.stat().st_mode & 0o111
    assert path.read_text().startswith("#!/bin/busybox sh\n")
    run([BUSYBOX or "busybox", "sh", "-n", path])


def flatten(doc: object, tmp_path: Path) -> list[str]:
    source = tmp_path / "runtime.json"
    source.write_text(json.dumps(doc, indent=4))
    awk = ROOT / "pkg/runc/rootfs/usr/lib/lkcloud/jsonflat.awk"
    return run([BUSYBOX or "busybox", "awk", "-f", awk, source]).text.splitlines()


def test_runtime_json_flattens(tmp_path: Path) -> None:
    bundle = "/containers/onboot/000-x"
    runtime = {
        "mounts": [
            {"destination": f"{bundle}/tmp", "type": "tmpfs", "source": "tmpfs"},
            {"destination": f"{bundle}/tmp", "options": ["remount", "private"]},
            {"destination": f"{bundle}/rootfs", "type": "overlay", "source": "overlay",
             "options": [f"lowerdir={bundle}/lower", f"upperdir={bundle}/tmp/upper"]},
        ],
        "mkdir": ["/var/lib/x"],
        "interfaces": [],
        "bindNS": {},
        "flag": True,
        "text": 'quote " and \\ backslash',
    }
    lines = flatten(runtime, tmp_path)
    assert f"mounts.0.destination\t{bundle}/tmp" in lines
    assert "mounts.1.options.1\tprivate" in lines
    assert f"mounts.2.options.0\tlowerdir={bundle}/lower" in lines
    assert "mkdir.0\t/var/lib/x" in lines
    assert "flag\ttrue" in lines
    assert 'text\tquote " and \\ backslash' in lines
    assert not any(line.startswith(("interfaces", "bindNS")) for line in lines)
