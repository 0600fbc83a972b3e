"""``lkcloud pkg build``: one line per problem and exit 2 for a bad build.yml; JSON results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from tests.pkg.conftest import ROOT


@pytest.fixture(autouse=True)
def _reset_options() -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_bad_build_yml_is_exit_2_with_file_line_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "build.yml").write_text("image: a/b\ndebs: [x]\nentrypoint: notalist\nbogus: 1\n")
    assert main(["pkg", "build", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"lkcloud: error: {tmp_path / 'build.yml'}:3: entrypoint: expected a list, got a string" in err
    assert f"{tmp_path / 'build.yml'}:4: bogus: unknown key" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_json_result(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # a private .deb cache
    code = main(["pkg", "build", str(ROOT / "pkg" / "hello-onboot"), "--cache", str(tmp_path / "store"), "--json"])
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["image"] == "lkcloud/hello-onboot"
    assert results[0]["refs"][1] == "lkcloud/hello-onboot:dev"
    assert results[0]["digest"].startswith("sha256:")
