"""``lkcloud build --arch amd64 --arch arm64``: one run, a build per architecture (each named
NAME-ARCH), every option of every build checked before any work (issue 20)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.oci.api import ContainerConfig
from lkcloud.oci.store import ImageStore
from lkcloud.platform import Arch
from lkcloud.provider.push_all import _name
from tests.assemble.layers import directory, file, tar_bytes

CONFIG = "init: [example.org/init:1]\nonboot:\n  - name: hello\n    image: example.org/hello:1\n"


def seed_both(store: ImageStore, base: Path) -> None:
    """Both images for both architectures: a multi-arch index each, as `pkg build` makes them."""
    base.mkdir(parents=True, exist_ok=True)
    for ref, short in (("example.org/init:1", "init"), ("example.org/hello:1", "hello")):
        for arch in ("amd64", "arm64"):
            layer = base / f"{short}-{arch}.tar"
            layer.write_bytes(tar_bytes([directory("bin"), file(f"bin/{short}", f"{short} for {arch}\n", 0o755)]))
            store.put_image(ref, config=ContainerConfig(entrypoint=(f"/bin/{short}",)), layers=[layer], arch=arch)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LKCLOUD_ARCH", raising=False)
    (tmp_path / "app.yml").write_text(CONFIG)
    seed_both(ImageStore(tmp_path / "cache"), tmp_path / "layers")
    yield tmp_path
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_one_run_builds_each_architecture(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "build", "app.yml", "-f", "tar", "--arch", "amd64", "--arch", "aarch64",
                 "--cache", "cache", "--dir", "out"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["arch"]) for r in results] == [("app-amd64", "amd64"), ("app-arm64", "arm64")]
    for arch in ("amd64", "arm64"):
        with tarfile.open(project / "out" / f"app-{arch}.tar") as tar:
            found = tar.extractfile("containers/onboot/000-hello/lower/bin/hello")
            assert found is not None and found.read() == f"hello for {arch}\n".encode()


def test_every_architecture_is_checked_before_any_work(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # raw-bios is fine for amd64 and refused for arm64: nothing may be built for amd64 first.
    assert main(["build", "app.yml", "-f", "raw-bios", "--arch", "amd64,arm64", "--cache", "cache",
                 "--dir", "out"]) == 2
    assert "arm64 machines boot by UEFI only" in capsys.readouterr().err
    assert not (project / "out").exists()


def test_push_all_names_each_architectures_build() -> None:
    both = [Arch.AMD64, Arch.ARM64]
    assert _name(None, [Path("app.yml")], Arch.ARM64, both) == "app-arm64"
    assert _name("web", [Path("app.yml")], Arch.AMD64, both) == "web-amd64"
    assert _name(None, [Path("app.yml")], Arch.AMD64, [Arch.AMD64]) is None
