"""Packages built once per session from real Debian packages (apt-get download, cached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.oci.store import ImageStore
from lkcloud.pkg.build import PackageOptions, PackageResult, build_packages

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "init", "runc", "hello-onboot", "hello-service")


@pytest.fixture(scope="session")
def deb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("debs")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, deb_cache: Path) -> tuple[ImageStore, dict[str, PackageResult]]:
    """Every package of pkg/ built into one store: (store, name -> result)."""
    cache = tmp_path_factory.mktemp("store")
    options = PackageOptions(cache=cache, deb_cache=deb_cache)
    results = build_packages([ROOT / "pkg" / name for name in PACKAGES], options)
    return ImageStore(cache), dict(zip(PACKAGES, results, strict=True))
