"""The ``lkcloud`` command: global options, command registration, and error handling."""

from __future__ import annotations

import sys
import traceback

import typer
from typer.exceptions import TyperException

from lkcloud import __version__, logs
from lkcloud.cli import context
from lkcloud.cli.groups import build_groups
from lkcloud.errors import LkcloudError
from lkcloud.optional import optional_module

# Core command modules; each exposes register(app).
COMMAND_MODULES = (
    "lkcloud.cli.validate",
    "lkcloud.cli.build",
    "lkcloud.cli.cache",
    "lkcloud.cli.pkg",
    "lkcloud.cli.metadata",
)

app = typer.Typer(
    name="lkcloud",
    help="LinuxKit for the clouds: build immutable OS images from LinuxKit configs and run them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lkcloud {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Debug log and tracebacks on errors."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable result on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    context.OPTIONS.debug = debug
    context.OPTIONS.json = json_output
    context.OPTIONS.quiet = quiet
    logs.setup(debug)


def _register() -> None:
    for name in COMMAND_MODULES:
        module = optional_module(name)
        if module is not None:
            module.register(app)
    build_groups(app)


_register()


def _fail(exc: LkcloudError) -> int:
    problems = getattr(exc, "problems", None) or [exc.message]
    for problem in problems:
        sys.stderr.write(f"lkcloud: error: {problem}\n")
    if exc.hint:
        sys.stderr.write(f"lkcloud: hint: {exc.hint}\n")
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, map errors to exit codes (2 input, 1 failure, 130 ^C)."""
    code = 0
    try:
        returned = app(args=argv, prog_name="lkcloud", standalone_mode=False)
        # Without standalone mode, typer returns the code of typer.Exit and 130 for ^C.
        if isinstance(returned, int):
            code = returned
            if code == 130:
                sys.stderr.write("lkcloud: interrupted\n")
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        sys.stderr.write("lkcloud: interrupted\n")
        code = 130
    except TyperException as exc:  # usage errors: bad flags, missing arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"lkcloud: error: {exc}\n")
        code = int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        sys.stderr.write("lkcloud: interrupted\n")
        code = 130
    except LkcloudError as exc:
        if context.OPTIONS.debug:
            traceback.print_exc()
        code = _fail(exc)
    except Exception as exc:
        if context.OPTIONS.debug:
            traceback.print_exc()
        sys.stderr.write(f"lkcloud: internal error: {type(exc).__name__}: {exc}\n")
        sys.stderr.write("lkcloud: hint: run again with --debug for the traceback\n")
        code = 1
    finally:
        context.close_reporter()
    return code


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
