"""What lkcloud writes: user data files, the debug log, the Debian package cache (issue 17, items 9-11)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli.main import main
from lkcloud.logs import redact
from lkcloud.pkg.debian import download
from tests.conftest import ROOT
from tests.security.hostile_registry import Hostile, hostile_registry
from tests.servers.registry import make_image


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- item 9: user data is 0600 ---------------------------------------------------------------------
@pytest.mark.usefixtures("umask_022")
def test_metadata_create_writes_user_data_0600(tmp_path: Path) -> None:
    out = tmp_path / "user-data.json"
    assert main(["metadata", "create", "--entry", "ssh/authorized_keys=ssh-ed25519 AAAA", "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.usefixtures("umask_022")
@pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")
def test_the_cidata_iso_is_0600(tmp_path: Path) -> None:
    from lkcloud_qemu.cidata import write_iso

    iso = write_iso(b'{"secret": {"content": "x"}}', tmp_path / "cidata.iso")
    assert stat.S_IMODE(iso.stat().st_mode) == 0o600


# --- item 10: the architecture is part of a cached package's identity ------------------------------
def test_a_cached_package_of_another_architecture_is_not_reused(tmp_path: Path) -> None:
    cache = tmp_path / "debs"
    cache.mkdir()
    for name in ("busybox-static_1%3a1.35.0-4_amd64.deb", "busybox-static_1%3a1.35.0-4_arm64.deb",
                 "tzdata_2024a-0+deb12u1_all.deb"):
        (cache / name).write_bytes(name.encode())
    host = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    assert download("busybox-static:arm64=1:1.35.0-4", cache).name.endswith("_arm64.deb")
    assert download("busybox-static:amd64=1:1.35.0-4", cache).name.endswith("_amd64.deb")
    if host in ("amd64", "arm64"):
        assert download("busybox-static=1:1.35.0-4", cache).name.endswith(f"_{host}.deb")
    assert download("tzdata:arm64=2024a-0+deb12u1", cache).name.endswith("_all.deb")


# --- item 11: --debug does not print signed URLs ---------------------------------------------------
def test_redact_replaces_query_strings() -> None:
    line = ('PUT https://storage.googleapis.com/upload/storage/v1/b/bk/o?uploadType=resumable&upload_id=ADPyc '
            '"GET /x.vhd?sv=2021&sig=abc%3D HTTP/1.1" http://h/p')
    assert redact(line) == ('PUT https://storage.googleapis.com/upload/storage/v1/b/bk/o?<redacted> '
                            '"GET /x.vhd?sv=2021&sig=abc%3D HTTP/1.1" http://h/p')


def test_debug_log_has_lkcloud_lines_but_no_signed_url(tmp_path: Path) -> None:
    image = make_image([{"a": b"1"}])
    cdn = Hostile(blobs=dict(image.blobs))
    with hostile_registry(cdn) as cdn_port:
        state = Hostile(manifests={"1": (image.manifest, image.media_type)}, blobs=dict(image.blobs),
                        redirect_blobs_to=f"http://127.0.0.1:{cdn_port}",
                        redirect_query="X-Amz-Signature=SIGNATURE-GRANTS-ACCESS&X-Amz-Expires=600")
        with hostile_registry(state) as port:
            env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT)}
            done = subprocess.run([sys.executable, "-m", "lkcloud", "--debug", "cache", "pull",
                                   f"127.0.0.1:{port}/signed/blob:1", "--cache", str(tmp_path / "cache")],
                                  capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert any("/blob/" in path and "Signature" in path for _, path, _ in cdn.seen)  # the URL was signed
    assert "SIGNATURE-GRANTS-ACCESS" not in done.stderr
    assert "DEBUG lkcloud." in done.stderr
