"""File selection: keep globs, default doc skipping, symlink chains and overlays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lkcloud.errors import BuildError
from lkcloud.pkg import tree


def make_tree(root: Path) -> Path:
    for rel in ("usr/sbin/tool", "usr/share/doc/tool/README", "lib/x/libfoo.so.1.2", "etc/tool.conf"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "usr/bin").mkdir()
    os.symlink("../sbin/tool", root / "usr/bin/tool")
    os.symlink("libfoo.so.1.2", root / "lib/x/libfoo.so.1")
    os.symlink("/etc/alternatives/missing", root / "usr/bin/dangling")
    return root


def test_keep_follows_symlinks(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    staged = tree.select(root, ["/usr/bin/tool"])
    assert sorted(staged) == ["usr/bin/tool", "usr/sbin/tool"]


def test_keep_directory_and_glob(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    assert sorted(tree.select(root, ["/lib/x/"])) == ["lib/x/libfoo.so.1", "lib/x/libfoo.so.1.2"]
    assert sorted(tree.select(root, ["/etc/*.conf"])) == ["etc/tool.conf"]


def test_default_skips_docs_and_keeps_dangling_links(tmp_path: Path) -> None:
    staged = tree.select(make_tree(tmp_path), [])
    assert "usr/share/doc/tool/README" not in staged
    assert "usr/bin/dangling" in staged


def test_strict_chain_reports_missing_target(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with pytest.raises(BuildError, match="is missing"):
        tree.stage_chain({}, root, "usr/bin/dangling")


def test_overlay_replaces(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "deb")
    overlay = tmp_path / "rootfs"
    (overlay / "etc").mkdir(parents=True)
    (overlay / "etc/tool.conf").write_text("mine")
    staged = tree.select(root, ["/etc/"])
    tree.add_overlay(staged, overlay)
    assert staged["etc/tool.conf"] == overlay / "etc/tool.conf"
    assert tree.parents(staged) == ["etc"]
