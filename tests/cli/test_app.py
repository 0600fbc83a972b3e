"""The conventions every command follows, wherever it is registered: help text on every option,
plain placeholders, ``-h``, the global options after the subcommand, shell completion."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.core import TyperArgument, TyperGroup

from lkcloud import formats
from lkcloud.cli.app import apply_conventions, command, walk
from tests.cli.conftest import Runner, run_child

TREE = list(walk(command()))
LEAVES = [(" ".join(path[1:]), cmd) for path, cmd in TREE if not isinstance(cmd, TyperGroup)]


def test_the_tree_has_every_command() -> None:
    names = {name for name, _ in LEAVES}
    assert {"build", "validate", "cache ls", "cache import", "config list", "metadata create", "pkg build"} <= names
    assert any(name.startswith("push ") for name in names)  # provider commands are covered too


@pytest.mark.parametrize(("name", "cmd"), LEAVES, ids=[name for name, _ in LEAVES])
def test_every_parameter_has_help(name: str, cmd: Any) -> None:
    missing = [param.name for param in cmd.params if not getattr(param, "help", None)]
    assert not missing, f"lkcloud {name}: no help text for {missing}"


@pytest.mark.parametrize(("name", "cmd"), LEAVES, ids=[name for name, _ in LEAVES])
def test_global_options_after_the_subcommand(name: str, cmd: Any) -> None:
    opts = {opt for param in cmd.params for opt in param.opts}
    assert {"--json", "--quiet", "--debug"} <= opts


def test_conventions_apply_once() -> None:
    root = command()
    before = [len(cmd.params) for _, cmd in walk(root)]
    apply_conventions(root)
    assert [len(cmd.params) for _, cmd in walk(root)] == before


HELP_SAMPLES = ["", "build", "cache", "cache export", "cache import", "config list", "run qemu", "push aws",
                "metadata create", "validate"]


@pytest.mark.parametrize("name", HELP_SAMPLES)
def test_help_has_plain_placeholders(name: str, cli: Runner) -> None:
    found = cli(*name.split(), "-h")
    assert found.code == 0, found.err
    text = found.out
    assert "Usage: lkcloud" in text
    for noise in ("<bool>", "<list[", "<str>", "<path>", "<int>", "{"):
        assert noise not in text, f"{noise!r} in the help of lkcloud {name}"


def test_arguments_read_as_words(cli: Runner) -> None:
    text = cli("build", "--help").out
    assert "Usage: lkcloud build [OPTIONS] FILES..." in text
    assert all(isinstance(p, TyperArgument) for p in [dict(LEAVES)["build"].params[0]])


def test_build_help_lists_every_format(cli: Runner) -> None:
    text = " ".join(cli("build", "-h").out.replace("│", " ").split())
    for name in formats.table():
        assert name in text


def test_show_completion(cli: Runner, tmp_path: Path) -> None:
    found = run_child(["--show-completion", "bash"], tmp_path, {}, None)
    assert found.code == 0, found.err
    assert "_LKCLOUD_COMPLETE" in found.out


def test_install_completion_writes_the_shell_startup_file(tmp_path: Path) -> None:
    found = run_child(["--install-completion", "bash"], tmp_path, {"HOME": str(tmp_path)}, None)
    assert found.code == 0, found.err
    assert "_LKCLOUD_COMPLETE" in (tmp_path / ".bash_completions" / "lkcloud.sh").read_text()


def test_completion_completes_commands_and_options(tmp_path: Path) -> None:
    env = {"_LKCLOUD_COMPLETE": "complete_bash", "COMP_WORDS": "lkcloud cache ex", "COMP_CWORD": "2"}
    found = run_child([], tmp_path, env, None)
    assert "export" in found.out.split()
    env = {"_LKCLOUD_COMPLETE": "complete_bash", "COMP_WORDS": "lkcloud build x.yml --for", "COMP_CWORD": "3"}
    assert "--format" in run_child([], tmp_path, env, None).out.split()


def test_json_and_quiet_after_the_subcommand(cli: Runner) -> None:
    found = cli("cache", "ls", "--json")
    assert found.code == 0 and found.out.lstrip().startswith("[")
    found = cli("cache", "ls", "-q")
    assert found.out.splitlines() == sorted(found.out.splitlines()) and "docker.io/lkcloud/init:dev" in found.out


def test_debug_after_the_subcommand_shows_tracebacks(cli: Runner) -> None:
    found = cli("cache", "import", "README.md", "--debug")
    assert found.code == 2 and "Traceback" in found.err


def test_no_home_config_is_read(workspace: Path) -> None:
    assert os.environ["XDG_CONFIG_HOME"] != str(Path.home() / ".config")
