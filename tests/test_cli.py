"""The CLI shell: global options, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import pytest
import typer

from lkcloud.cli import context
from lkcloud.cli.main import app, main
from lkcloud.errors import LkcloudError, UsageError


@pytest.fixture(autouse=True)
def _reset_options() -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "lkcloud" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def _add_failing_command(exc: Exception) -> None:
    @app.command("fail-for-test", hidden=True)
    def fail() -> None:
        raise exc


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (UsageError("bad flag value", hint="use a number"), 2, "lkcloud: error: bad flag value"),
        (LkcloudError("upload failed"), 1, "lkcloud: error: upload failed"),
        (RuntimeError("boom"), 1, "lkcloud: internal error: RuntimeError: boom"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    exc: Exception, code: int, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_failing_command(exc)
    assert main(["fail-for-test"]) == code
    err = capsys.readouterr().err
    assert text in err
    assert "Traceback" not in err


def test_debug_shows_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    _add_failing_command(LkcloudError("upload failed"))
    assert main(["--debug", "fail-for-test"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_interrupt_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    _add_failing_command(KeyboardInterrupt())
    assert main(["fail-for-test"]) == 130


def test_emit_json(capsys: pytest.CaptureFixture[str]) -> None:
    context.OPTIONS.json = True
    from lkcloud.provider.types import PushResult

    context.emit(PushResult(provider="aws", name="x", id="ami-1"), "human text")
    out = capsys.readouterr().out
    assert '"id": "ami-1"' in out and "human text" not in out


def test_provider_groups_exist() -> None:
    names = {g.name for g in app.registered_groups}
    assert {"push", "run", "fleet", "images"} <= names


def test_typer_exit_passes_code() -> None:
    @app.command("exit-for-test", hidden=True)
    def leave() -> None:
        raise typer.Exit(3)

    assert main(["exit-for-test"]) == 3


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    commands = getattr(group, "commands", None)  # a command group (typer vendors its own click)
    if isinstance(commands, dict):
        for name, command in commands.items():
            found += _commands(command, (*path, name))
    return found


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help renders for every command and subcommand (help texts are plain, not broken markup)."""
    import typer.main

    root = typer.main.get_command(app)
    paths = _commands(root)
    assert ("fleet", "refresh", "aws") in paths and ("run", "qemu") in paths
    for path in paths:
        assert main([*path, "--help"]) == 0, path
        assert "Usage" in capsys.readouterr().out
