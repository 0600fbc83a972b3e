"""The ``lkcloud`` command tree, and the conventions every command follows wherever it is
registered (core commands here, provider commands in their own packages):

- ``--json``, ``--quiet``/``-q`` and ``--debug`` before or after the subcommand;
- ``-h`` as ``--help``;
- plain placeholders in ``--help``: ``FILE...``, ``TEXT``, ``oci|docker``, nothing after a flag;
- shell completion (``lkcloud --install-completion``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperGroup, TyperOption

from lkcloud import __version__
from lkcloud.cli import build, cache, config, context, metadata, pkg, providers, validate

# Command modules, each with register(app): the core's, then the provider verbs for every provider.
COMMAND_MODULES = (validate, build, cache, pkg, metadata, config, providers)
HELP_OPTIONS = ["-h", "--help"]

app = typer.Typer(
    name="lkcloud",
    help="LinuxKit for the clouds: build immutable OS images from LinuxKit configs and run them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": HELP_OPTIONS},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lkcloud {__version__}")
        raise typer.Exit()


def _json(value: bool) -> None:
    context.OPTIONS.json = context.OPTIONS.json or value


def _quiet(value: bool) -> None:
    context.OPTIONS.quiet = context.OPTIONS.quiet or value


DEBUG = typer.Option(False, "--debug", help="Debug log and tracebacks on errors.", callback=context.set_debug,
                     is_eager=True)
JSON = typer.Option(False, "--json", help="Machine-readable result (and errors) on stdout.", callback=_json,
                    is_eager=True)
QUIET = typer.Option(False, "--quiet", "-q", help="Print only the result's ids or paths, one per line.",
                     callback=_quiet, is_eager=True)


@app.callback()
def root(
    debug: bool = DEBUG,
    json_output: bool = JSON,
    quiet: bool = QUIET,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    context.set_debug(debug)


def _register() -> None:
    for module in COMMAND_MODULES:
        module.register(app)


_register()


# --- conventions applied to the whole tree ---------------------------------------------------------
def _global_options() -> list[Any]:
    """Fresh ``--json``, ``--quiet`` and ``--debug`` parameters (values not passed to commands)."""
    template = typer.Typer(add_completion=False)

    @template.command()
    def options(debug: bool = DEBUG, json_output: bool = JSON, quiet: bool = QUIET) -> None: ...

    params = list(typer.main.get_command(template).params)
    for param in params:
        param.expose_value = False
    return params


def walk(command: Any, path: tuple[str, ...] = ("lkcloud",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree with its path, groups included."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, child in sorted(command.commands.items()):
            yield from walk(child, (*path, name))


def _placeholder(param: Any) -> str:
    desc = param.type_descriptor
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in desc.choices)
    if desc.is_path:
        return "PATH"
    return {"int": "INTEGER", "float": "NUMBER", "bool": "BOOLEAN"}.get(param.bare_type().removeprefix("list[")
                                                                        .removesuffix("]"), "TEXT")


class PlainArgument(TyperArgument):
    """An argument shown as ``FILES...`` in help and usage, with no type column."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.metavar or (self.name or "").upper()
        return name if self.required else f"[{name}]"


def _plain(command: Any, path: tuple[str, ...]) -> None:
    ctx = click.Context(command, info_name=path[-1], help_option_names=HELP_OPTIONS)
    help_option = command.get_help_option(ctx)  # made once per command, and kept
    if help_option is not None:
        help_option.metavar = ""
    for param in command.params:
        if isinstance(param, TyperArgument) and not isinstance(param, PlainArgument):
            param.metavar = (param.name or "arg").upper() + ("..." if param.nargs != 1 else "")
            param.__class__ = PlainArgument
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _placeholder(param)


def apply_conventions(root: Any) -> Any:
    """Plain placeholders on every command; the global options on every leaf command that does
    not already have them."""
    shared = _global_options()  # parameters hold no per-command state: one set serves every command
    for path, command in walk(root):
        if not isinstance(command, TyperGroup):
            taken = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
            for param in shared:
                if not set(param.opts) & taken:
                    command.params.append(param)
        _plain(command, path)
    return root


def command() -> Any:
    """The click command tree of :data:`app`, conventions applied."""
    return apply_conventions(typer.main.get_command(app))
