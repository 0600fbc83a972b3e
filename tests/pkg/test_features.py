"""One boot, one onboot container per config.json feature: env, binds and files, capabilities
(granted and dropped), readonly, host and new network namespaces, uid/gid by number and by
container name. Each result is printed from inside the container by runc in the VM."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.build import BuildOptions, build
from tests.support.boot import boot_to
from tests.support.hello import Hello

pytestmark = [pytest.mark.slow, pytest.mark.boot]

EXPECTED = {
    "env": "hi-from-env",
    "bind": "bound:640",  # the files: entry, with its mode, bound into the container
    "cap": "allowed",
    "nocap": "denied",  # CAP_CHOWN dropped: chown fails inside
    "readonly": "denied",
    "hostnet": "eth0,lo,",
    "newnet": "lo,",
    "ids": "1000:1001",
    "idname": "100",  # uid: env -> the id LinuxKit allocates to the first onboot container
}


def test_config_json_features(hello: Hello, tmp_path: Path) -> None:
    config = Path(__file__).with_name("features.yml")
    build(BuildOptions(files=(config,), outdir=tmp_path / "out", cache=hello.cache, name="features"))
    text = boot_to(tmp_path / "out" / "features", "feature-done", tmp_path / "vm")
    results = {}
    for line in text.splitlines():
        if "feature-" in line:
            name, _, value = line[line.index("feature-") + 8:].strip().partition(":")
            results[name] = value
    assert {name: results.get(name) for name in EXPECTED} == EXPECTED, text[-3000:]
