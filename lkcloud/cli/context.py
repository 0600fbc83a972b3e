"""Global CLI options (--debug, --json, --quiet), output rendering, errors, and the terminal reporter."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter, Task

STDIO = "-"  # a file name that means standard input or output


@dataclass
class Options:
    debug: bool = False
    json: bool = False
    quiet: bool = False


OPTIONS = Options()


def reset() -> None:
    """The options of a fresh command (the CLI runs several in one process under test)."""
    if OPTIONS.debug:
        logging.getLogger().setLevel(logging.WARNING)
    OPTIONS.debug = OPTIONS.json = OPTIONS.quiet = False


def set_debug(on: bool) -> None:
    """--debug: debug log lines on stderr, tracebacks on errors."""
    from lkcloud import logs

    OPTIONS.debug = OPTIONS.debug or on
    logs.setup(OPTIONS.debug)  # lkcloud's own debug lines only, URLs redacted


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, paths, tuples and bytes as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def emit(result: Any, text: str | Callable[[], str] | None = None, *,
         ids: list[str] | Callable[[], list[str]] | None = None) -> None:
    """Print ``result`` as JSON under --json; under --quiet only ``ids`` (the result's ids or
    paths, one per line, as ``docker -q`` does); else ``text``."""
    if OPTIONS.json:
        sys.stdout.write(json.dumps(to_jsonable(result), indent=2, sort_keys=True) + "\n")
        return
    if OPTIONS.quiet:
        found = ids() if callable(ids) else ids
        if found:
            sys.stdout.write("".join(f"{line}\n" for line in found))
        return
    if text is None:
        return
    rendered = text() if callable(text) else text
    if rendered:
        sys.stdout.write(rendered.rstrip("\n") + "\n")


def say(message: str) -> None:
    """A status line on stderr (silent under --quiet and --json)."""
    if not (OPTIONS.quiet or OPTIONS.json):
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def report_error(problems: list[str], hint: str | None, exit_code: int, *, internal: bool = False) -> None:
    """An error for people (one ``lkcloud: error:`` line per problem, then the hint, on stderr)
    or, under --json, one object on stdout: ``{"error", "problems", "hint", "exit_code"}``."""
    if OPTIONS.json:
        document = {"error": problems[0] if len(problems) == 1 else "; ".join(problems), "problems": problems,
                    "hint": hint, "exit_code": exit_code}
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
        return
    label = "internal error" if internal else "error"
    sys.stderr.write("".join(f"lkcloud: {label}: {problem}\n" for problem in problems))
    if hint:
        sys.stderr.write(f"lkcloud: hint: {hint}\n")
    sys.stderr.flush()


# --- files named on the command line (``-`` for standard input or output) ------------------------
def check_output(path: Path, option: str) -> None:
    """Before any work: ``path`` (not ``-``) can be created, its directory exists and is
    writable; a UsageError naming ``option`` otherwise. Nothing is left behind."""
    if str(path) == STDIO:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory", hint="name a file to write")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: no such directory {parent}")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write there: {exc.strerror or exc}") from exc
    os.close(fd)
    os.unlink(probe)


def binary_stdout(option: str) -> BinaryIO:
    """Standard output for binary data; refused when it is a terminal (as ``docker save`` does)."""
    if sys.stdout.isatty():
        raise UsageError(f"{option} -: refusing to write binary data to a terminal",
                         hint="redirect standard output to a file or a pipe")
    sys.stdout.flush()
    return sys.stdout.buffer


def check_input(path: Path, what: str = "") -> None:
    """Before any work: ``path`` (not ``-``) is a readable file."""
    if str(path) == STDIO:
        return
    label = f"{what} {path}".strip()
    if not path.exists():
        raise UsageError(f"{label}: no such file")
    if path.is_dir():
        raise UsageError(f"{label}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{label}: cannot read: permission denied")


# --- progress --------------------------------------------------------------------------------------
def _amount(n: float, unit: str) -> str:
    if unit != "B":
        return f"{n:g} {unit}".rstrip()
    for name in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or name == "GiB":
            return f"{n:.0f} {name}" if name == "B" else f"{n:.1f} {name}"
        n /= 1024
    raise AssertionError("unreachable")


class _PlainTask:
    """A task off a terminal: one line when it is done, with the amount and the rate."""

    def __init__(self, description: str, unit: str) -> None:
        self._description, self._unit = description, unit
        self._count = 0
        self._start = time.monotonic()

    def advance(self, amount: int = 1) -> None:
        self._count += amount

    def done(self) -> None:
        if not self._count:
            return
        seconds = max(time.monotonic() - self._start, 1e-3)
        rate = f", {_amount(self._count / seconds, self._unit)}/s" if self._unit == "B" else ""
        say(f"{self._description}: {_amount(self._count, self._unit)} in {seconds:.1f} s{rate}")


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._id, amount)

    def done(self) -> None:
        self._progress.stop_task(self._id)
        self._progress.remove_task(self._id)


class TerminalReporter:
    """Status lines on stderr; progress bars (bytes, rate, time left) when stderr is a terminal,
    else one plain line per finished task."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._progress: Any = None
        self._stream = stream

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    def _bars(self) -> Any:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
        return self._progress

    def step(self, message: str) -> None:
        say(message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        if OPTIONS.quiet or OPTIONS.json:
            return NULL.task(description, total, unit)
        if unit != "B" or not self.stream.isatty():
            return _PlainTask(description, unit)
        bars = self._bars()
        return _RichTask(bars, bars.add_task(description, total=total))

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


_REPORTER: TerminalReporter | None = None


def reporter() -> Reporter:
    """The reporter commands hand to the library."""
    global _REPORTER
    if _REPORTER is None:
        _REPORTER = TerminalReporter()
    return _REPORTER


def close_reporter() -> None:
    if _REPORTER is not None:
        _REPORTER.close()


@contextlib.contextmanager
def spooled_stdin(directory: Path) -> Iterator[BinaryIO]:
    """Standard input copied to an unnamed file in ``directory`` (for readers that seek)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory) as spool:
        while chunk := sys.stdin.buffer.read(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        yield spool
