"""``lkcloud validate``: summary line, --json, one line per problem, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from tests.spec.samples import MINIMAL


@pytest.fixture(autouse=True)
def _reset_options() -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "min.yml"
    path.write_text(MINIMAL)
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid: kernel, 1 init, 1 onboot, 1 services\n"


def test_corpus_file(compat_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(compat_dir / "docker.yml")]) == 0
    assert capsys.readouterr().out.endswith("docker.yml: valid: kernel, 4 init, 4 onboot, 5 services, 2 files\n")


def test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "min.yml"
    path.write_text(MINIMAL)
    assert main(["--json", "validate", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["services"][0]["name"] == "getty"
    assert set(data) == {"kernel", "init", "onboot", "onshutdown", "services", "files", "volumes"}


def test_errors_one_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(MINIMAL + "    capabilities: [CAP_FOO]\n    binds: [x]\n")
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.startswith("lkcloud: error:")]
    assert lines == [
        f'lkcloud: error: {path}:12: services[0].capabilities[0]: unknown capability "CAP_FOO"',
        f'lkcloud: error: {path}:13: services[0].binds[0]: cannot parse bind "x": expected src:dst[:options]',
    ]
    assert "Traceback" not in captured.err


def test_merged_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text(MINIMAL)
    b.write_text("files:\n  - {path: etc/x, contents: y}\n")
    assert main(["validate", str(a), str(b)]) == 0
    assert capsys.readouterr().out == f"{a}, {b}: valid: kernel, 1 init, 1 onboot, 1 services, 1 files\n"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yml")]) == 2
    assert "cannot read" in capsys.readouterr().err
