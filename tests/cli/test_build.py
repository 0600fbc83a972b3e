"""``lkcloud build`` as users run it: names that do not collide, all-or-nothing outputs, one
digest vocabulary with ``cache ls``, LKCLOUD_ARCH, a config on standard input, --quiet paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lkcloud import formats
from lkcloud.build import publish
from lkcloud.errors import BuildError
from lkcloud.formats import BuildInputs, Format
from lkcloud.progress import Reporter
from tests.cli.conftest import OK_YML, Runner


@pytest.mark.slow
def test_vhd_and_dynamic_vhd_get_their_own_names(cli: Runner, workspace: Path) -> None:
    found = cli("build", "ok.yml", "-f", "vhd", "-f", "dynamic-vhd", "--size", "64M", "--dir", "out")
    assert found.code == 0, found.err
    assert sorted(p.name for p in (workspace / "out").iterdir()) == ["ok-dynamic.vhd", "ok.vhd"]
    assert (workspace / "out" / "ok.vhd").read_bytes()[-512:][:8] == b"conectix"
    assert (workspace / "out" / "ok-dynamic.vhd").read_bytes()[:8] == b"conectix"


def _failing(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    (inputs.outdir / f"{inputs.name}.half").write_bytes(b"half")
    raise BuildError("the last format failed")


def test_outputs_appear_only_when_every_format_succeeded(cli: Runner, workspace: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    known = formats.table()
    failing = Format("failing", lambda name: (f"{name}.half",), _failing, needs_kernel=False, help="fails")
    monkeypatch.setattr(formats, "table", lambda: {**known, "failing": failing})
    (workspace / "out").mkdir()
    (workspace / "out" / "ok.tar").write_bytes(b"the previous build")
    found = cli("build", "ok.yml", "-f", "tar", "-f", "kernel+initrd", "-f", "failing", "--dir", "out")
    assert found.code == 1 and "the last format failed" in found.err
    assert sorted(p.name for p in (workspace / "out").iterdir()) == ["ok.tar"]  # no work directory either
    assert (workspace / "out" / "ok.tar").read_bytes() == b"the previous build"


def test_publish_puts_back_what_a_failed_rename_replaced(tmp_path: Path) -> None:
    outdir, work = tmp_path / "out", tmp_path / "out" / ".work"
    (work / "staged").mkdir(parents=True)
    (outdir / "a.img").write_bytes(b"old a")
    (outdir / "b.img").mkdir()  # a rename onto a directory fails
    (outdir / "b.img" / "x").write_bytes(b"")
    for name in ("a.img", "b.img", "c.img"):
        (work / "staged" / name).write_bytes(b"new " + name.encode())
    staged = {"one": (work / "staged" / "a.img", work / "staged" / "c.img"), "two": (work / "staged" / "b.img",)}
    with pytest.raises(OSError):
        publish(staged, outdir, work)
    assert (outdir / "a.img").read_bytes() == b"old a"
    assert not (outdir / "c.img").exists()


def test_build_digests_are_the_ones_cache_ls_shows(cli: Runner) -> None:
    built = json.loads(cli("build", "ok.yml", "--dir", "out", "--json").out)
    listed = {item["reference"]: item["digest"] for item in json.loads(cli("cache", "ls", "--json").out)}
    assert built["digests"] == {ref: listed[f"docker.io/{ref}"] for ref in built["digests"]}
    assert len(built["digests"]) == 3


def test_lkcloud_arch_chooses_the_architecture(cli: Runner) -> None:
    found = cli("build", "ok.yml", "--dir", "out", env={"LKCLOUD_ARCH": "arm64"})
    assert found.code != 0 and "no image for linux/arm64" in found.err  # the cache holds amd64 images only
    assert cli("build", "ok.yml", "--dir", "out", "--arch", "amd64", env={"LKCLOUD_ARCH": "arm64"}).code == 0


def test_a_config_on_standard_input(cli: Runner, workspace: Path) -> None:
    found = cli("build", "-", "--name", "piped", "--dir", "out", "-f", "tar", stdin=OK_YML.encode())
    assert found.code == 0, found.err
    assert (workspace / "out" / "piped.tar").is_file()
    assert cli("validate", "-", stdin=OK_YML.encode()).out.startswith("<stdin>: valid: kernel, 1 init, 1 services")


def test_quiet_prints_the_output_paths(cli: Runner) -> None:
    found = cli("build", "ok.yml", "--dir", "out", "-q")
    assert found.code == 0 and found.err == ""
    names = ("ok-kernel", "ok-initrd.img", "ok-cmdline")
    assert found.out.splitlines() == [os.path.join("out", name) for name in names]
