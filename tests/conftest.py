"""Shared test configuration: paths to the repository, the shared LinuxKit corpus, and markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hello import Hello, build_hello, build_hello_arm64
from tests.support.workers import Images, build_workers

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
COMPAT = SHARED / "compat" / "linuxkit"


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    """LinuxKit's example configs (../shared/compat/linuxkit); skips where absent."""
    if not COMPAT.is_dir():
        pytest.skip("../shared/compat/linuxkit is not present")
    return COMPAT


@pytest.fixture(scope="session")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Hello:
    """examples/hello.yml built once per test process (kernel+initrd, and the package store)."""
    return build_hello(tmp_path_factory.mktemp("hello"))


@pytest.fixture(scope="session")
def worker_images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    """FaaS worker releases v1 and v2 and a broken image (kernel+initrd prefixes), built once per
    test process: tests that use them share the xdist group ``qemu-workers``."""
    return build_workers(tmp_path_factory.mktemp("workers"))


@pytest.fixture(scope="session")
def hello_arm64(tmp_path_factory: pytest.TempPathFactory) -> Hello:
    """examples/hello.yml built for arm64 once per test process (kernel+initrd and raw-efi)."""
    return build_hello_arm64(tmp_path_factory.mktemp("hello-arm64"))
