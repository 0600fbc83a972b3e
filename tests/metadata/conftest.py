"""The packages and examples/metadata.yml built once per session (real Debian packages, cached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hello import build_example

PACKAGES = ("kernel", "init", "runc", "hello-service", "metadata")


@pytest.fixture(scope="session")
def metadata_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NAME prefix (NAME-kernel, NAME-initrd.img, NAME-cmdline) of examples/metadata.yml."""
    return build_example(tmp_path_factory.mktemp("metadata-build"), "metadata", PACKAGES).prefix
