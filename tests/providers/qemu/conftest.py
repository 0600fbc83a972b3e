"""Fixtures for the QEMU provider tests: a cloud kernel and a busybox initrd, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli import context
from tests.providers.qemu import guest


@pytest.fixture(autouse=True)
def _reset_cli_options() -> Iterator[None]:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False
    yield
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


@pytest.fixture(scope="session")
def kernel_tree(tmp_path_factory: pytest.TempPathFactory) -> guest.KernelTree:
    """Debian's cloud kernel and its modules (the .deb is cached under ~/.cache/lkcloud/debs)."""
    return guest.fetch_kernel(tmp_path_factory.mktemp("kernel"))


@pytest.fixture(scope="session")
def guest_initrd(kernel_tree: guest.KernelTree, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return guest.make_initrd(tmp_path_factory.mktemp("initrd") / "initrd.img", kernel_tree)


@pytest.fixture
def guest_image(kernel_tree: guest.KernelTree, guest_initrd: Path, tmp_path: Path) -> str:
    """A NAME prefix (NAME-kernel, NAME-initrd.img, NAME-cmdline) of the test guest."""
    return guest.make_prefix(tmp_path / "images", "guest", kernel_tree.kernel, guest_initrd)
