"""``lkcloud run qemu`` input handling (the boots are in test_boot.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.cli.main import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _prefix(tmp_path: Path, *, kernel: bool = True) -> str:
    if kernel:
        (tmp_path / "hello-kernel").write_bytes(b"k")
    (tmp_path / "hello-initrd.img").write_bytes(b"i")
    return str(tmp_path / "hello")


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "qemu", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--mem", "--cpus", "--disk", "--publish", "--data-file", "--wait-for", "--detach", "--accel"):
        assert flag in out


def test_missing_kernel_is_a_clear_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "qemu", _prefix(tmp_path, kernel=False), "--wait-for", "x"]) == 2
    err = capsys.readouterr().err
    assert "hello-kernel: kernel file is missing" in err and "Traceback" not in err
    assert not (tmp_path / ".lkcloud").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publish", "eighty"], "--publish 'eighty'"),
        (["--disk", "x.img,bus=scsi"], "unknown option 'bus'"),
        (["--data", "{}", "--data-file", "u.json"], "not both"),
        (["--data", '{"a": {"perm": "0644"}}'], "neither of"),
        (["--accel", "hvf"], "unknown accelerator"),
        (["--mem", "1"], "--mem 1"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["run", "qemu", _prefix(tmp_path), "--wait-for", "x", *args]) == 2
    assert message in capsys.readouterr().err


def test_stop_when_nothing_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "run", "qemu", "--stop", "hello"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(i["id"], i["state"]) for i in result["instances"]] == [(".lkcloud/qemu/hello", "not running")]


def test_wait_for_regex_is_checked_before_booting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "qemu", _prefix(tmp_path), "--wait-for", "(["]) == 2
    assert "not a regular expression" in capsys.readouterr().err
    assert not (tmp_path / ".lkcloud").exists()


def test_a_text_file_is_not_booted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("# hello\n")
    assert main(["run", "qemu", str(tmp_path / "README.md"), "--wait-for", "x"]) == 2
    assert main(["push", "qemu", str(tmp_path / "README.md")]) == 2
    err = capsys.readouterr().err
    assert err.count("README.md: not an image file (it looks like text)") == 2


def test_push_list_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LKCLOUD_QEMU_IMAGES", str(tmp_path / "store"))
    for name in ("a.img", "b.img"):
        (tmp_path / name).write_bytes(name.encode().ljust(510, b"\0") + b"\x55\xaa")  # an MBR disk
        assert main(["push", "qemu", str(tmp_path / name), "--family", "disk"]) == 0
    assert main(["push", "qemu", str(tmp_path / "a.img"), "--family", "disk"]) == 0
    out = capsys.readouterr().out
    assert out.count("qemu: ") == 3 and out.count("already there") == 1
    assert main(["--json", "images", "list", "qemu"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2 and all(r["provider"] == "qemu" and r["family"] == "disk" for r in listed)
    assert main(["images", "prune", "qemu", "--keep", "1", "--dry-run"]) == 0
    assert "would remove" in capsys.readouterr().out and len(list((tmp_path / "store").iterdir())) == 2
    assert main(["images", "prune", "qemu", "--keep", "1"]) == 0
    assert len(list((tmp_path / "store").iterdir())) == 1
    assert main(["images", "prune", "qemu", "--keep", "0"]) == 2
