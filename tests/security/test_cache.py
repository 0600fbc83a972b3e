"""Processes sharing one image cache, and runs killed half-way (issue 17, items 8 and 12).

Two processes are two ``Layout`` objects on one directory: each has its own file lock (flock on
its own open file), so threads model processes faithfully. A layout that pauses just before it
tags stands for a process that is slow at the worst moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lkcloud.cli.main import main
from lkcloud.oci.api import ContainerConfig, Descriptor
from lkcloud.oci.layout import LEASES, Layout
from lkcloud.oci.pull import pull_image
from lkcloud.oci.reference import parse
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from lkcloud.oci.write import write_image
from lkcloud.progress import NULL
from tests.security.hostile_registry import Hostile, hostile_registry
from tests.servers.registry import layer_tar, make_image

DAY = 86400


class SlowToTag(Layout):
    """A process that stops just before it tags, until ``go`` is set."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reached, self.go = threading.Event(), threading.Event()

    def tag(self, name: str, desc: Descriptor) -> Descriptor:
        self.reached.set()
        assert self.go.wait(60)
        return super().tag(name, desc)


def _layer(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.tar"
    path.write_bytes(layer_tar({name: name.encode()}))
    return path


def _platforms(root: Path, name: str) -> set[str]:
    layout = Layout(root)
    entry = layout.find(name)
    assert entry is not None
    index = json.loads(layout.read_blob(entry.digest))
    return {child["platform"]["architecture"] for child in index["manifests"]}


def test_two_builds_of_one_package_for_two_architectures_keep_both(tmp_path: Path) -> None:
    root, name = tmp_path / "cache", "lkcloud/pkg:dev"
    first = SlowToTag(root)
    errors: list[BaseException] = []

    def build(layout: Layout, arch: str) -> None:
        try:
            write_image(layout, name, config=ContainerConfig(), layers=[_layer(tmp_path, arch)], arch=arch,
                        created="1970-01-01T00:00:00Z")
        except BaseException as exc:
            errors.append(exc)

    amd = threading.Thread(target=build, args=(first, "amd64"))
    amd.start()
    assert first.reached.wait(60)
    arm = threading.Thread(target=build, args=(Layout(root), "arm64"))
    arm.start()
    arm.join(3)  # before the fix it finishes here; after it, it waits for the lock
    first.go.set()
    amd.join(60)
    arm.join(60)
    assert not errors
    assert _platforms(root, name) == {"amd64", "arm64"}


def test_a_prune_during_a_pull_does_not_take_its_blobs(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    store = ImageStore(root)
    store.put_image("other/image:1", config=ContainerConfig(), layers=[_layer(tmp_path, "other")])
    image = make_image([{"pulled": b"data"}])
    state = Hostile(manifests={"1": (image.manifest, image.media_type)}, blobs=dict(image.blobs))
    with hostile_registry(state) as port:
        reference = parse(f"127.0.0.1:{port}/new/image:1")
        puller = SlowToTag(root)
        worker = threading.Thread(target=pull_image, args=(puller, reference, "amd64",
                                                           RegistryOptions(use_env=False, attempts=1), NULL))
        worker.start()
        assert puller.reached.wait(60)  # every blob is in, nothing tags them yet
        assert ImageStore(root).remove("other/image:1")  # cache rm, with its prune
        puller.go.set()
        worker.join(60)
    assert ImageStore(root).local(str(reference)).layers
    assert not list((root / LEASES).iterdir())


def test_a_dead_process_lease_pins_nothing(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    store = ImageStore(root)
    image = store.put_image("gone/image:1", config=ContainerConfig(), layers=[_layer(tmp_path, "gone")])
    dead = subprocess.Popen(["true"])
    dead.wait()
    lease = root / LEASES / f"{os.uname().nodename}-{dead.pid}-0"
    lease.write_text("".join(f"{d.digest}\n" for d in image.layers))
    store.remove("gone/image:1")
    assert not any(Layout(root).has_blob(d.digest) for d in image.layers)
    assert not lease.exists()


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def _leftovers(tmp_path: Path) -> dict[str, Path]:
    blobs = tmp_path / "cache" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    paths = {"old part": blobs / ".tmp-old.part", "new part": blobs / ".tmp-new.part",
             "old build": out / ".hello.build-old", "new build": out / ".hello.build-new"}
    for key, path in paths.items():
        if "build" in key:
            path.mkdir()
            (path / "rootfs.tar").write_bytes(b"x" * 1024)
            if "old" in key:
                _age(path / "rootfs.tar", 2 * DAY)
        else:
            path.write_bytes(b"partial")
        if "old" in key:
            _age(path, 2 * DAY)
    return paths


def test_cache_prune_removes_day_old_leftovers_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _leftovers(tmp_path)
    code = main(["cache", "prune", "--cache", str(tmp_path / "cache"), "--dir", str(tmp_path / "out")])
    assert code == 0
    assert {key for key, path in paths.items() if path.exists()} == {"new part", "new build"}
    out = capsys.readouterr().out
    assert f"removed {paths['old part']}" in out and f"removed {paths['old build']}" in out


def test_the_next_write_to_the_cache_sweeps_it(tmp_path: Path) -> None:
    paths = _leftovers(tmp_path)
    Layout(tmp_path / "cache").write_blob(b"{}")
    assert not paths["old part"].exists() and paths["new part"].exists()
