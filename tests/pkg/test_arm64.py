"""arm64 packages built on this amd64 machine from Debian's arm64 .debs: the kernel's Image and
modules, aarch64 ELF closures, and the FaaS worker template for arm64."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from lkcloud.build import BuildOptions, build
from lkcloud.diskfile import kernel_arch
from lkcloud.oci.store import ImageStore
from lkcloud.pkg import elf
from lkcloud.pkg.build import PackageOptions, build_packages
from lkcloud.platform import Arch
from tests.support.hello import ROOT, Hello

pytestmark = pytest.mark.slow

EM_AARCH64 = 183


def layer_files(store: ImageStore, ref: str, dest: Path) -> dict[str, Path]:
    """The arm64 image's layer unpacked under ``dest``: {name: path} of its regular files."""
    image = store.get(ref, arch="arm64", pull=False)
    assert image.platform.architecture == "arm64"
    found = {}
    with store.open_layer(image.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.isfile():
                data = tar.extractfile(member)
                assert data is not None
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read())
                found[member.name] = target
            else:
                found[member.name] = dest / member.name
    return found


def test_arm64_packages_are_arm64(hello_arm64: Hello) -> None:
    """The kernel is Debian's arm64 Image with its modules, runc's ELF closure is aarch64's; the
    stable tags hold both architectures."""
    assert kernel_arch(hello_arm64.kernel) is Arch.ARM64
    store = ImageStore(hello_arm64.cache)
    image = store.get("lkcloud/runc:dev", arch="arm64", pull=False)
    assert image.platform.architecture == "arm64"
    with store.open_layer(image.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        names = {member.name for member in tar}
    assert {"lib/ld-linux-aarch64.so.1", "usr/bin/runc"} <= names
    assert any(name.startswith("lib/aarch64-linux-gnu/libc.so") for name in names)
    kernel = store.get("lkcloud/kernel:dev", arch="arm64", pull=False)
    with store.open_layer(kernel.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        assert {"kernel", "kernel.tar"} <= {member.name for member in tar}
    (amd64,) = build_packages([ROOT / "pkg" / "hello-onboot"], PackageOptions(cache=hello_arm64.cache))
    both = {arch: store.get("lkcloud/hello-onboot:dev", arch=arch, pull=False) for arch in ("amd64", "arm64")}
    assert both["amd64"].manifest_digest == amd64.digest
    assert both["amd64"].index_digest == both["arm64"].index_digest  # one index, two platforms


def test_faas_worker_builds_for_arm64(hello_arm64: Hello, tmp_path: Path) -> None:
    """templates/faas-worker.yml and its packages for arm64: curl and jq are aarch64 binaries."""
    cache = hello_arm64.cache
    build_packages([ROOT / "pkg" / name for name in ("metadata", "faas-runtime")],
                   PackageOptions(cache=cache, arch="arm64"))
    store = ImageStore(cache)
    files = layer_files(store, "lkcloud/metadata:dev", tmp_path / "metadata")
    for binary in ("usr/bin/curl", "usr/bin/jq"):
        info = elf.dynamic(files[binary])
        assert info.machine == EM_AARCH64 and info.interpreter == "/lib/ld-linux-aarch64.so.1"
    result = build(BuildOptions(files=(ROOT / "templates" / "faas-worker.yml",), outdir=tmp_path / "out",
                                cache=cache, arch="arm64"))
    (kernel, _initrd, _cmdline) = result.outputs["kernel+initrd"]
    assert kernel_arch(kernel) is Arch.ARM64
