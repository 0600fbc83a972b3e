"""The release path: what the user named, sorted; pushes recorded once per provider, in one format."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.platform import Arch
from lkcloud.provider import records, release
from lkcloud.provider.types import PushResult
from lkcloud_qemu.config import QemuConfig
from lkcloud_qemu.provider import QemuProvider


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_classify(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("{}")
    (tmp_path / "b.yaml").write_text("{}")
    (tmp_path / "disk.img").write_bytes(b"x")
    assert release.classify(None).empty and release.classify([]).empty
    assert release.classify(["a.yml", "b.yaml"]).configs == (Path("a.yml"), Path("b.yaml"))
    assert release.classify("disk.img").file == Path("disk.img")
    assert release.classify(["ami-0123"]).ref == "ami-0123"
    with pytest.raises(UsageError, match=r"missing\.yml: no such file"):
        release.classify(["a.yml", "missing.yml"])
    with pytest.raises(UsageError, match="give one image"):
        release.classify(["disk.img", "a.yml"])


def test_the_last_push_is_per_provider_and_per_arch() -> None:
    with pytest.raises(UsageError, match="none pushed to aws from this directory"):
        release.last_pushed("aws")
    records.record(PushResult("aws", "ami-1", "hello-1", family="hello", arch="amd64", scope={"region": "r1"}))
    records.record(PushResult("aws", "ami-2", "hello-2", family="hello", arch="arm64", scope={"region": "r2"}))
    assert release.last_pushed("aws").id == "ami-2"
    assert release.last_pushed("aws", Arch.AMD64).scope == {"region": "r1"}
    assert release.last_pushed("aws", Arch.ARM64).id == "ami-2"
    with pytest.raises(UsageError):
        release.last_pushed("gcp")


def test_image_files_are_checked_before_pushing(tmp_path: Path) -> None:
    provider = QemuProvider(QemuConfig(images=tmp_path / "images", state_root=tmp_path / "state"))
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(UsageError, match="not an image file"):
        release.push(provider, release.classify("notes.txt"), arch=Arch.AMD64)
    with pytest.raises(UsageError, match="ami-1: no such file"):
        release.push(provider, release.classify("ami-1"), arch=Arch.AMD64)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(510) + b"\x55\xaa")
    pushed = release.push(provider, release.classify(str(disk)), arch=Arch.AMD64, name="mine")
    assert records.last("qemu") is not None and records.last("qemu").id == pushed.id  # type: ignore[union-attr]
    assert release.image_id(provider, release.Source(), arch=Arch.AMD64) == pushed.id
