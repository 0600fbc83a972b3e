"""The provider object: registry, local image directory, fleets not yet available."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.process import spawn
from lkcloud.provider.types import RunRequest, provider_class
from lkcloud_qemu import state
from lkcloud_qemu.config import QemuConfig, load
from lkcloud_qemu.provider import QemuProvider


@pytest.fixture
def provider(tmp_path: Path) -> QemuProvider:
    return QemuProvider(QemuConfig(images=tmp_path / "images", state_root=tmp_path / "state"))


def _artifact(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "build" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_registry_loads_the_class() -> None:
    assert provider_class("qemu") is QemuProvider


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LKCLOUD_QEMU_MEM", "2048")
    monkeypatch.setenv("LKCLOUD_QEMU_IMAGES", str(tmp_path / "imgs"))
    config = load(cpus=3)
    assert (config.mem, config.cpus, config.images) == (2048, 3, tmp_path / "imgs")
    assert load(mem=512).mem == 512


def test_push_copies_once_per_digest(provider: QemuProvider, tmp_path: Path) -> None:
    artifact = from_file(_artifact(tmp_path, "hello-efi.qcow2", b"disk one"))
    first = provider.push(artifact)
    again = provider.push(artifact)
    stored = Path(first.image_id)
    assert stored.parent == provider.config.images and stored.read_bytes() == b"disk one"
    assert stored.name.startswith("hello-efi-") and stored.name.endswith(".qcow2")
    assert not first.reused and again.reused and again.image_id == first.image_id


def test_list_and_prune_keep_the_newest_and_those_in_use(provider: QemuProvider, tmp_path: Path) -> None:
    paths = []
    for age, name in enumerate(("new", "mid", "old")):
        pushed = provider.push(from_file(_artifact(tmp_path, f"{name}.img", name.encode())))
        os.utime(pushed.image_id, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
        paths.append(pushed.image_id)
    assert [r.id for r in provider.images_list()] == paths
    # a running VM (a stand-in process) boots the oldest image
    vm_dir = provider.config.state_root / "vm"
    proc = spawn(["sleep", "300"], stdout=subprocess.DEVNULL, new_session=True)
    try:
        state.claim(vm_dir)
        state.record(vm_dir, name="vm", image=paths[2], argv=[str(a) for a in proc.args],  # type: ignore[union-attr]
                     ports=[], accel="tcg", pid=proc.pid)
        assert [r.in_use for r in provider.images_list()] == [False, False, True]
        assert [r.id for r in provider.images_prune(keep=1, dry_run=True)] == [paths[1]]
        assert Path(paths[1]).exists()
        assert [r.id for r in provider.images_prune(keep=1)] == [paths[1]]
        assert [r.id for r in provider.images_list()] == [paths[0], paths[2]]
        assert [i.state for i in provider.instances()] == ["running"]
        assert provider.stop("vm")
    finally:
        proc.kill()
        proc.wait()


def test_run_checks_the_request(provider: QemuProvider, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="count 0"):
        provider.run(RunRequest(image="x", count=0))
    with pytest.raises(UsageError, match="no such image"):
        provider.run(RunRequest(image=str(tmp_path / "missing")))
