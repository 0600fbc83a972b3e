"""Hostile OCI layers: what a layer's tar headers and sizes can do to lkcloud and to its outputs.

A layer comes from any registry or archive. It must not choose names in lkcloud's outputs
(issue 17, item 1), nor make a build use unbounded memory or disk (item 3).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lkcloud.errors import BuildError
from lkcloud.oci.api import ContainerConfig
from lkcloud.oci.limits import LimitError
from lkcloud.oci.store import ImageStore
from lkcloud.oci.unpack import KEPT_PAX
from tests.assemble.layers import directory, tar_bytes
from tests.conftest import ROOT
from tests.security.support import build_tar, file, members, with_pax
from tests.support.bomb import CHILD_BUILD, zero_file_image

VICTIM = "containers/onboot/000-victim/lower"


@pytest.mark.parametrize("target", ["../escaped.sh", "etc/init.d/000-x", "/etc/init.d/000-x"])
def test_gnu_sparse_name_cannot_rename_a_file_of_the_tar_output(tmp_path: Path, target: str) -> None:
    # tarfile applies PAX records in order: "path" after "GNU.sparse.name" wins when lkcloud reads
    # the layer; the next reader of the output must see lkcloud's name too, not the attacker's.
    planted = with_pax(file("bin/tool", "#!/bin/sh\necho pwned\n", 0o755),
                       {"GNU.sparse.name": target, "path": "bin/tool"})
    out = build_tar(tmp_path, [[directory("bin"), planted]])
    found = members(out)
    assert f"{VICTIM}/bin/tool" in found
    assert not any(name.lstrip("/").startswith(("..", "etc/init.d")) for name in found), sorted(found)
    with tarfile.open(out) as tar:
        assert tar.extractfile(f"{VICTIM}/bin/tool").read() == b"#!/bin/sh\necho pwned\n"  # type: ignore[union-attr]


def test_only_extended_attributes_survive_from_a_layers_pax_records(tmp_path: Path) -> None:
    records = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02", "LIBARCHIVE.xattr.user.note": "aGk=",
               "linkpath": "/etc/shadow", "GNU.sparse.major": "1", "SCHILY.devmajor": "8", "comment": "x",
               "size": "3", "mtime": "1.5"}
    out = build_tar(tmp_path, [[directory("bin"), with_pax(file("bin/ping", "abc", 0o755), records)]])
    ping = members(out)[f"{VICTIM}/bin/ping"]
    kept = {k: v for k, v in ping.pax_headers.items() if not k.startswith("LINUXKIT.")}
    assert kept == {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02", "LIBARCHIVE.xattr.user.note": "aGk="}
    assert ping.isreg() and ping.size == 3 and not ping.linkname
    assert all(k.startswith((*KEPT_PAX, "LINUXKIT.")) for m in members(out).values() for k in m.pax_headers)


def test_a_file_over_the_file_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LKCLOUD_LIMITS_FILE_SIZE", "1K")
    with pytest.raises(LimitError, match=r"hostile/image:1: 'big' is 2 KiB, over the 1 KiB limit for one file") as info:
        build_tar(tmp_path, [[file("big", b"x" * 2048)]])
    assert info.value.hint and "LKCLOUD_LIMITS_FILE_SIZE" in info.value.hint
    assert not (tmp_path / "out" / "hostile.tar").exists()


def test_image_data_over_the_image_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LKCLOUD_LIMITS_IMAGE_SIZE", "4K")
    # Hidden files count too: unpacking them costs the same work.
    layers = [[file(f"f{i}", b"x" * 1024) for i in range(3)], [file(f"f{i}", b"y" * 1024) for i in range(3)]]
    with pytest.raises(LimitError, match=r"hostile/image:1: its layers hold more than 4 KiB of file data"):
        build_tar(tmp_path, layers)


def test_too_many_entries_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LKCLOUD_LIMITS_IMAGE_ENTRIES", "100")
    with pytest.raises(LimitError, match="its layers hold more than 100 entries"):
        build_tar(tmp_path, [[file(f"e{i}") for i in range(101)]])


def test_a_project_config_cannot_raise_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lkcloud.toml").write_text('[limits]\nfile-size = "1T"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LKCLOUD_LIMITS_IMAGE_SIZE", "1K")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    from lkcloud.oci.limits import Limits

    assert Limits.from_settings().file_size == 1 << 30


def test_a_huge_pax_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    info, data = with_pax(file("x", "1"), {"comment": "A" * (2 << 20)})
    with pytest.raises(LimitError, match=r"hostile/image:1: a layer has a \d+-byte extended header"):
        build_tar(tmp_path, [[(info, data)]])


def test_a_truncated_layer_is_an_error_not_a_short_file(tmp_path: Path) -> None:
    layer = tar_bytes([file("big", b"z" * (3 << 20))])[: (2 << 20)]
    path = tmp_path / "cut.tar"
    path.write_bytes(layer)
    ImageStore(tmp_path / "cache").put_image("hostile/cut:1", config=ContainerConfig(), layers=[path])
    config = tmp_path / "cut.yml"
    config.write_text("onboot:\n  - name: victim\n    image: hostile/cut:1\n")
    from lkcloud.build import BuildOptions, build

    with pytest.raises((BuildError, tarfile.ReadError)):
        build(BuildOptions(files=(config,), formats=("tar",), outdir=tmp_path / "out", cache=tmp_path / "cache"))


def test_large_files_round_trip_through_the_spool(tmp_path: Path) -> None:
    big = bytes(range(256)) * (9 << 12)  # 9 MiB: past what is kept in memory
    out = build_tar(tmp_path, [[file("big", big), file("small", "s")]])
    with tarfile.open(out) as tar:
        assert tar.extractfile(f"{VICTIM}/big").read() == big  # type: ignore[union-attr]
        assert tar.extractfile(f"{VICTIM}/small").read() == b"s"  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_decompression_bomb_does_not_take_the_memory(tmp_path: Path) -> None:
    # 256 MiB of zeros gzip to 256 KiB; lkcloud once held every file whole, twice over.
    size = 256 << 20
    config = zero_file_image(tmp_path, "hostile/bomb:1", "zeros", size)
    done = subprocess.run([sys.executable, "-c", CHILD_BUILD, str(config), str(tmp_path / "out"),
                           str(tmp_path / "cache")], check=True, cwd=ROOT, capture_output=True, text=True)
    peak_mib = int(done.stdout.split()[-1]) / 1024  # the child's own peak resident memory (KiB)
    assert (tmp_path / "out" / "zeros.tar").stat().st_size > size
    assert peak_mib < 160, f"peak RSS {peak_mib:.0f} MiB for a {size >> 20} MiB file"
