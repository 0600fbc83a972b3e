"""apt's candidate versions are remembered until its lists change (asking apt costs a second per
package, most of an unchanged function package's rebuild)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lkcloud.errors import ToolMissingError
from lkcloud.pkg import debian


def test_a_version_is_asked_once_per_state_of_the_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb.debian.org_Packages").write_text("one")
    monkeypatch.setattr(debian, "APT_LISTS", lists)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    version = debian.resolve_version("busybox-static")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # apt is out of reach from here on
    assert debian.resolve_version("busybox-static") == version
    (lists / "deb.debian.org_Packages").write_text("two, after apt-get update")
    os.utime(lists / "deb.debian.org_Packages", (1, 1))
    with pytest.raises(ToolMissingError):
        debian.resolve_version("busybox-static")
