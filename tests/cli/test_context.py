"""Rendering: progress as bars on a terminal and as plain lines elsewhere; --quiet prints ids."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.context import TerminalReporter
from tests.cli.conftest import Runner


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _fresh_options() -> None:
    context.reset()


def test_plain_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    task = TerminalReporter().task("pulling layer 1/2", total=3 << 20)
    task.advance(2 << 20)
    task.advance(1 << 20)
    task.done()
    line = capsys.readouterr().err.strip()
    assert line.startswith("pulling layer 1/2: 3.0 MiB in ") and line.endswith("/s")


def test_bars_on_a_terminal() -> None:
    terminal = _Terminal()
    reporter = TerminalReporter(terminal)
    task = reporter.task("uploading disk.raw", total=1 << 20)
    task.advance(1 << 19)
    task.done()
    reporter.close()
    assert "uploading disk.raw" in terminal.getvalue()


def test_nothing_under_json_or_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    context.OPTIONS.quiet = True
    task = TerminalReporter().task("pulling", total=10)
    task.advance(10)
    task.done()
    assert capsys.readouterr() == ("", "")


def test_quiet_metadata_prints_paths(cli: Runner, workspace: Path) -> None:
    found = cli("metadata", "create", "--entry", "ssh/keys=k", "-o", "ud.json", "-q")
    assert found.code == 0 and found.out.split() == ["ud.json"]
    found = cli("metadata", "show", "ud.json", "--quiet")
    assert found.out.split() == ["/run/config/ssh", "/run/config/ssh/keys"]
    assert "ssh" in json.loads((workspace / "ud.json").read_text())
