"""The ``lkcloud`` entry point: run a command and turn every outcome into an exit code.

Exit codes: 0 success, 1 failure, 2 bad input (usage errors and invalid files), 130 interrupted
(^C, silent while lkcloud is still starting), 143 terminated (SIGTERM; cleanup runs as for ^C).
Errors are one line each on stderr (``lkcloud: error: ...``, then ``lkcloud: hint: ...``), or
one JSON object on stdout under ``--json``; a traceback only with ``--debug``.

This module imports only the standard library at the top, so that ^C while the command tree is
still being imported exits quietly too.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

INTERRUPTED = 130
TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` and ``with`` cleans up."""


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, imported on first use
        from lkcloud.cli.app import app

        return app
    raise AttributeError(name)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _scan(argv: list[str]) -> None:
    """--json and --debug anywhere before ``--``: errors while parsing are rendered as asked too."""
    from lkcloud.cli import context

    options = argv[: argv.index("--")] if "--" in argv else argv
    context.OPTIONS.json = context.OPTIONS.json or "--json" in options
    context.OPTIONS.debug = context.OPTIONS.debug or "--debug" in options


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    from lkcloud.cli import context

    args = list(sys.argv[1:] if argv is None else argv)
    context.reset()
    _scan(args)
    try:
        with _sigterm_cleans_up():
            return _run(args)
    except Terminated:
        if context.OPTIONS.json:
            context.report_error(["terminated"], None, TERMINATED)
        else:
            sys.stderr.write("lkcloud: terminated\n")
        return TERMINATED
    finally:
        context.close_reporter()


def _run(args: list[str]) -> int:
    from lkcloud.cli.app import command
    from lkcloud.cli.errors import handle

    try:
        returned = command().main(args=args, prog_name="lkcloud", standalone_mode=False)
    except BaseException as exc:  # every outcome becomes an exit code
        if isinstance(exc, Terminated):
            raise
        return handle(exc)
    # Without standalone mode, click returns the code of Exit, and 130 for ^C.
    if isinstance(returned, int) and returned == INTERRUPTED:
        return handle(KeyboardInterrupt())
    return returned if isinstance(returned, int) else 0


def _exit(code: int) -> NoReturn:
    if code == INTERRUPTED:
        # CPython marks ^C "unhandled" when it escaped an exec() of a string (dataclasses make their
        # methods that way), even when it was handled later, and then kills itself with SIGINT at
        # exit (status -2, not 130). Evaluating a string clears the mark.
        eval("None")  # noqa: S307
    sys.exit(code)


def run() -> None:
    """The console script: ^C while still importing exits 130 without a word."""
    try:
        import lkcloud.cli.app  # noqa: F401 (the command tree, imported before main times anything)
    except KeyboardInterrupt:
        _exit(INTERRUPTED)
    _exit(main())


if __name__ == "__main__":
    run()
