"""Registry fixtures for the OCI tests, and a layer made of the busybox-static Debian package."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.pkg.debian import download, extract
from tests.servers.registry import htpasswd_registry, layer_tar, registry, token_registry

__all__ = ["busybox_layer", "htpasswd_registry", "registry", "token_registry"]


@pytest.fixture(scope="session")
def busybox_layer(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An uncompressed tar holding ``bin/busybox`` from Debian's busybox-static."""
    tree = extract(download("busybox-static"), tmp_path_factory.mktemp("busybox") / "tree")
    binary = Path(tree, "bin", "busybox").read_bytes()
    return layer_tar({"bin/busybox": binary, "etc/hostname": b"lkcloud\n"})
