"""The provider object: registry, construction from settings, the local image directory."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.process import spawn
from lkcloud.provider.prune import plan_prune
from lkcloud.provider.registry import load as load_provider
from lkcloud.provider.registry import provider_class
from lkcloud.provider.types import RunRequest
from lkcloud.settings import Settings
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
    made = load_provider("qemu", Settings(files=[]), cpus=2, wait_for="ready", disks=("x.img,size=1G",))
    assert isinstance(made, QemuProvider) and made.config.cpus == 2 and made.config.mem == 2048
    assert made.options.wait_for == "ready" and made.options.disks[0].size == "1G"


def test_a_bad_wait_for_regex_is_refused_before_anything_starts() -> None:
    with pytest.raises(UsageError, match="--wait-for '\\(\\[': not a regular expression"):
        load_provider("qemu", Settings(files=[]), wait_for="([")


def test_push_copies_once_per_digest(provider: QemuProvider, tmp_path: Path) -> None:
    artifact = from_file(_artifact(tmp_path, "hello-efi.qcow2", b"disk one"))
    first = provider.push(artifact)
    again = provider.push(artifact)
    stored = Path(first.id)
    assert stored.parent == provider.config.images and stored.read_bytes() == b"disk one"
    assert stored.name.startswith("hello-efi-") and stored.name.endswith(".qcow2")
    assert not first.reused and again.reused and again.id == first.id and first.family == "hello-efi"


def test_list_and_prune_keep_the_newest_and_those_in_use(provider: QemuProvider, tmp_path: Path) -> None:
    paths = []
    for age, name in enumerate(("new", "mid", "old")):
        pushed = provider.push(from_file(_artifact(tmp_path, f"{name}.img", name.encode())))
        os.utime(pushed.id, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
        paths.append(pushed.id)
    assert [r.id for r in provider.images_list()] == paths
    # a running VM (a stand-in process) boots the oldest image
    vm_dir = provider.config.state_root / "vm"
    proc = spawn(["sleep", "300"], stdout=subprocess.DEVNULL, new_session=True)
    try:
        state.claim(vm_dir)
        state.record(vm_dir, name="vm", image=paths[2], argv=[str(a) for a in proc.args],  # type: ignore[union-attr]
                     ports=[], accel="tcg", pid=proc.pid)
        records = provider.images_list()
        assert [r.in_use for r in records] == [False, False, True]
        # one family per file name here: each family keeps its newest, so nothing goes
        assert plan_prune(records, keep=1).remove == ()
        same_family = [dataclasses.replace(r, family="f") for r in records]
        plan = plan_prune(same_family, keep=1)
        assert [r.id for r in plan.remove] == [paths[1]] and [r.id for r in plan.in_use] == [paths[2]]
        provider.image_delete(plan.remove[0])
        assert [r.id for r in provider.images_list()] == [paths[0], paths[2]]
        assert state.stop(vm_dir)
    finally:
        proc.kill()
        proc.wait()


def test_resolve_image_refuses_what_qemu_cannot_boot(provider: QemuProvider, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# not a disk\n")
    with pytest.raises(UsageError, match="not an image file \\(it looks like text\\)"):
        provider.resolve_image(str(readme))
    with pytest.raises(UsageError, match="no such image"):
        provider.run(RunRequest(image=str(tmp_path / "missing")))
