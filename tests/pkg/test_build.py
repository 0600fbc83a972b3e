"""Packages from real Debian packages: reproducible, with their libraries, config and labels."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from lkcloud.oci.store import ImageStore
from lkcloud.pkg.build import PackageOptions, PackageResult, build_package
from tests.pkg.conftest import ROOT

pytestmark = pytest.mark.slow

Built = tuple[ImageStore, dict[str, PackageResult]]


def layer_members(store: ImageStore, ref: str) -> dict[str, tarfile.TarInfo]:
    image = store.get(ref, pull=False)
    assert len(image.layers) == 1
    with store.open_layer(image.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        return {member.name: member for member in tar}


def test_tags_content_hash_and_stable(built: Built) -> None:
    store, results = built
    result = results["hello-onboot"]
    content, stable = result.refs
    assert stable == "lkcloud/hello-onboot:dev"
    assert len(content.split(":")[1]) == 16
    for ref in result.refs:
        assert store.get(ref, pull=False).manifest_digest == result.digest


def test_reproducible_in_a_separate_cache(built: Built, tmp_path: Path, deb_cache: Path) -> None:
    _, results = built
    options = PackageOptions(cache=tmp_path / "other", deb_cache=deb_cache)
    for name in ("runc", "hello-onboot"):
        again = build_package(ROOT / "pkg" / name, options)
        assert again.digest == results[name].digest
        assert again.refs == results[name].refs


def test_tag_follows_the_inputs(built: Built, tmp_path: Path, deb_cache: Path) -> None:
    _, results = built
    copy = tmp_path / "hello"
    shutil.copytree(ROOT / "pkg" / "hello-onboot", copy)
    options = PackageOptions(cache=tmp_path / "store", deb_cache=deb_cache)
    assert build_package(copy, options).refs == results["hello-onboot"].refs  # the location does not count
    with (copy / "build.yml").open("a") as fh:
        fh.write("workdir: /tmp\n")
    changed = build_package(copy, options)
    assert changed.refs[0] != results["hello-onboot"].refs[0]
    assert changed.digest != results["hello-onboot"].digest


def test_image_config_and_moby_label(built: Built) -> None:
    store, _ = built
    config = store.get("lkcloud/hello-service:dev", pull=False).config
    assert config.entrypoint is not None and config.entrypoint[:2] == ("/bin/busybox", "sh")
    assert "hello from service" in config.entrypoint[-1]
    label = config.label("org.mobyproject.config")
    assert label is not None and json.loads(label) == {"readonly": True}
    assert config.label("org.opencontainers.image.description")


def test_runc_has_its_shared_libraries(built: Built) -> None:
    store, results = built
    members = layer_members(store, "lkcloud/runc:dev")
    for path in (
        "usr/sbin/runc",
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libseccomp.so.2",
    ):
        assert path in members, path
    assert members["usr/bin/runc"].issym() and members["usr/bin/runc"].linkname == "../sbin/runc"
    assert not any(name.startswith("usr/share/doc") for name in members)
    assert members["usr/bin/lkcloud-bundles"].mode == 0o755
    assert {"libc.so.6", "libseccomp.so.2"} <= set(results["runc"].libraries)
    assert [deb.package for deb in results["runc"].debs] == ["runc", "libc6", "libseccomp2"]


def test_layer_is_normalised(built: Built) -> None:
    store, _ = built
    members = layer_members(store, "lkcloud/init:dev")
    assert members["init"].mode == 0o755 and members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym()
    assert {(m.uid, m.gid, m.mtime) for m in members.values()} == {(0, 0, 1492533000)}
    assert list(members) == sorted(members)


def test_kernel_image_contract(built: Built, tmp_path: Path) -> None:
    store, _ = built
    image = store.get("lkcloud/kernel:dev", pull=False)
    with store.open_layer(image.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        tar.extractall(tmp_path, filter="data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel", "kernel.tar"]
    assert (tmp_path / "kernel").read_bytes()[0x202:0x206] == b"HdrS"  # a bzImage
    with tarfile.open(tmp_path / "kernel.tar") as modules:
        names = set(modules.getnames())
        dep_name = next(n for n in names if n.endswith("/modules.dep"))
        dep_file = modules.extractfile(dep_name)
        assert dep_file is not None
        dep = dep_file.read().decode()
    root = dep_name.rsplit("/", 1)[0]
    assert root.startswith("lib/modules/6.1.0-") and root.endswith("-cloud-amd64")
    lines = {line.split(":")[0]: line.split(":")[1].split() for line in dep.splitlines()}
    for module in ("virtio_blk", "virtio_net", "virtio_pci", "virtio_scsi", "virtio_console", "overlay", "vfat",
                   "fat", "isofs", "nls_cp437"):
        assert any(path.endswith(f"/{module}.ko") for path in lines), module
    assert next(deps for path, deps in lines.items() if path.endswith("/vfat.ko")) == ["kernel/fs/fat/fat.ko"]
    for path, deps in lines.items():
        assert f"{root}/{path}" in names
        assert all(f"{root}/{d}" in names for d in deps)
    assert {f"{root}/modules.alias", f"{root}/modules.builtin", f"{root}/modules.order"} <= names
