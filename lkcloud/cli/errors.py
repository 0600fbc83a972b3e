"""Every way a command can end, as an exit code and one line per problem (see :mod:`lkcloud.cli.main`)."""

from __future__ import annotations

import sys
import traceback

from typer import Abort, Exit
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from lkcloud.cli import context
from lkcloud.errors import LkcloudError

INTERRUPTED = 130


def _usage(exc: UsageError) -> int:
    command = exc.ctx.command_path if exc.ctx is not None else "lkcloud"
    message = " ".join(exc.format_message().split())  # one line, whatever click wrapped
    help_names = exc.ctx.help_option_names if exc.ctx is not None else ["--help"]
    context.report_error([f"{command}: {message}"], f"see '{command} {help_names[-1]}'", exc.exit_code)
    return exc.exit_code


def _traceback() -> None:
    if context.OPTIONS.debug:
        traceback.print_exc()


def _interrupted() -> int:
    if context.OPTIONS.json:
        context.report_error(["interrupted"], None, INTERRUPTED)
    else:
        sys.stderr.write("lkcloud: interrupted\n")
    return INTERRUPTED


def _system_exit(exc: SystemExit) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    context.report_error([str(exc.code)], None, 1)
    return 1


def handle(exc: BaseException) -> int:
    """Report ``exc`` as the user should see it; returns the exit code."""
    if isinstance(exc, Exit):
        return exc.exit_code
    if isinstance(exc, SystemExit):  # shell completion, --install-completion
        return _system_exit(exc)
    if isinstance(exc, KeyboardInterrupt | Abort):
        return _interrupted()
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    if isinstance(exc, UsageError):
        return _usage(exc)
    if isinstance(exc, ClickException):
        context.report_error([" ".join(exc.format_message().split())], None, exc.exit_code)
        return exc.exit_code
    _traceback()
    if isinstance(exc, LkcloudError):
        problems = getattr(exc, "problems", None) or [exc.message]
        context.report_error(list(problems), exc.hint, exc.exit_code)
        return exc.exit_code
    if isinstance(exc, OSError) and exc.strerror:  # a file system or network failure outside a check
        where = f"{exc.filename}: " if exc.filename else ""
        context.report_error([f"{where}{exc.strerror}"], "run again with --debug for the traceback", 1)
        return 1
    if isinstance(exc, Exception):
        context.report_error([f"{type(exc).__name__}: {exc}"], "run again with --debug for the traceback", 1,
                             internal=True)
        return 1
    raise exc
