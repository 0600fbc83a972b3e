"""``pkg build --push``: the image reaches a real registry (Debian's docker-registry) intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lkcloud.oci.store import ImageStore
from lkcloud.pkg.build import PackageOptions, build_package
from tests.pkg.conftest import ROOT
from tests.servers.registry import RegistryServer, registry

__all__ = ["registry"]

pytestmark = [pytest.mark.slow, pytest.mark.emulator]


def test_push_then_pull(registry: RegistryServer, tmp_path: Path, deb_cache: Path) -> None:
    package = tmp_path / "hello"
    shutil.copytree(ROOT / "pkg" / "hello-onboot", package)
    text = (package / "build.yml").read_text()
    (package / "build.yml").write_text(text.replace("image: lkcloud/", f"image: {registry.host}/lkcloud/"))
    result = build_package(package, PackageOptions(cache=tmp_path / "store", deb_cache=deb_cache, push=True))
    root = result.index_digest or result.digest
    assert result.pushed == tuple(f"{ref}@{root}" for ref in result.refs)
    pulled = ImageStore(tmp_path / "fresh").get(result.refs[1], pull=True)
    assert pulled.manifest_digest == result.digest
