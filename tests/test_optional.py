"""Optional modules: absent is None, broken still raises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lkcloud.optional import optional_module


def test_absent_module_is_none() -> None:
    assert optional_module("lkcloud_no_such_module") is None
    assert optional_module("json") is sys.modules["json"]


def test_a_broken_module_still_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lkcloud_broken_extra.py").write_text("import lkcloud_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="lkcloud_missing_dependency"):
        optional_module("lkcloud_broken_extra")
