"""Shared test configuration: paths to the repository, the shared LinuxKit corpus, and markers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
COMPAT = SHARED / "compat" / "linuxkit"


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    """LinuxKit's example configs (../shared/compat/linuxkit); skips where absent."""
    if not COMPAT.is_dir():
        pytest.skip("../shared/compat/linuxkit is not present")
    return COMPAT
