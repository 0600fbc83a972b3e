"""Layer merging (whiteouts, opaque directories) and hostile layers: nothing lands outside."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from lkcloud.oci.unpack import CHAR, HARDLINK, Entry, LayerOpener, clean_name, merge_layers
from tests.assemble.layers import Member, chardev, directory, file, hardlink, symlink, tar_bytes


def openers(*layers: Sequence[Member]) -> list[LayerOpener]:
    def opener(data: bytes) -> LayerOpener:
        @contextlib.contextmanager
        def open_layer() -> Iterator[BinaryIO]:
            yield io.BytesIO(data)

        return open_layer

    return [opener(tar_bytes(layer)) for layer in layers]


def merged(*layers: Sequence[Member]) -> tuple[dict[str, Entry], list[str]]:
    warnings: list[str] = []
    entries = merge_layers(openers(*layers), "example/image:1", warnings.append)
    return {e.name: e for e in entries}, warnings


def test_upper_layer_wins_and_whiteouts_delete() -> None:
    lower = [directory("etc"), file("etc/a", "lower"), file("etc/b", "b"), directory("opt"), file("opt/x", "x")]
    upper = [file("etc/a", "upper"), file("etc/.wh.b"), file(".wh.opt")]
    tree, warnings = merged(lower, upper)
    assert tree["etc/a"].data == b"upper"
    assert "etc/b" not in tree and "opt" not in tree and "opt/x" not in tree
    assert not any(".wh." in name for name in tree)
    assert warnings == []


def test_opaque_directory_hides_lower_contents_only() -> None:
    lower = [directory("var"), file("var/old", "old"), directory("var/sub"), file("var/sub/deep", "d")]
    upper = [directory("var"), file("var/.wh..wh..opq"), file("var/new", "new")]
    tree, _ = merged(lower, upper)
    assert set(tree) == {"var", "var/new"}


def test_file_replacing_directory_hides_its_children() -> None:
    lower = [directory("data"), file("data/x", "x")]
    upper = [symlink("data", "/elsewhere")]
    tree, _ = merged(lower, upper)
    assert set(tree) == {"data"} and tree["data"].linkname == "/elsewhere"


def test_tar_slip_and_absolute_names_are_neutralised() -> None:
    layer = [file("../../etc/passwd", "evil"), file("/etc/shadow", "abs"), file("a/../../escape", "x"),
             file("./ok", "fine")]
    tree, warnings = merged(layer)
    assert set(tree) == {"etc/shadow", "ok"}
    assert any("leaves the root" in w and "example/image:1" in w for w in warnings)
    assert any("absolute name" in w for w in warnings)
    assert all(not name.startswith(("/", "..")) for name in tree)


def test_symlink_chains_cannot_carry_entries_outside() -> None:
    same_layer = [symlink("link", "/etc"), file("link/passwd", "evil"), symlink("a", "b"), symlink("b", "../.."),
                  directory("a2"), symlink("a2/up", "/"), file("a2/up/etc/x", "evil")]
    tree, _ = merged(same_layer)
    assert "link/passwd" not in tree and "a2/up/etc/x" not in tree
    assert {"link", "a", "b", "a2", "a2/up"} <= set(tree)  # symlinks themselves are kept (resolved in the guest)
    # the symlink in a lower layer, the file "through" it in an upper one
    tree, warnings = merged([symlink("link", "/etc"), symlink("d", "../../..")],
                            [file("link/passwd", "evil"), file("d/x/y", "evil")])
    assert set(tree) == {"link", "d"}
    assert len(warnings) == 2 and all("is a symlink" in w and "example/image:1" in w for w in warnings)


def test_hard_links_to_outside_or_through_symlinks_are_dropped() -> None:
    layer = [file("inside", "data"), hardlink("good", "inside"), hardlink("bad", "../../etc/passwd"),
             hardlink("missing", "nowhere"), symlink("s", "/etc"), hardlink("through", "s/passwd")]
    tree, warnings = merged(layer)
    assert tree["good"].type == HARDLINK and tree["good"].linkname == "inside"
    assert {"bad", "missing", "through"}.isdisjoint(tree)
    assert len(warnings) == 3


def test_device_nodes_are_recorded_without_root() -> None:
    tree, _ = merged([directory("dev"), chardev("dev/null", 1, 3), file("etc/owned", "x", uid=1000, gid=1000)])
    node = tree["dev/null"]
    assert (node.type, node.devmajor, node.devminor, node.mode) == (CHAR, 1, 3, 0o666)
    assert (tree["etc/owned"].uid, tree["etc/owned"].gid) == (1000, 1000)


def test_xattrs_survive() -> None:
    info = tarfile.TarInfo("bin/ping")
    info.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
    tree, _ = merged([(info, b"")])
    assert dict(tree["bin/ping"].pax)["SCHILY.xattr.security.capability"] == "\x01\x00\x00\x02"


def test_clean_name() -> None:
    assert clean_name("./a/b/") == "a/b"
    assert clean_name("/a//b/./c") == "a/b/c"
    assert clean_name("a/../b") == "b"
    assert clean_name("..") is None and clean_name("a/../../b") is None and clean_name("./") is None
