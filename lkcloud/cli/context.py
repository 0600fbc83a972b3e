"""Global CLI options (--debug, --json, --quiet), output rendering, and the terminal reporter."""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lkcloud.progress import NULL, Reporter, Task


@dataclass
class Options:
    debug: bool = False
    json: bool = False
    quiet: bool = False


OPTIONS = Options()


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
    """Status lines on stderr, and progress bars when stderr is a terminal."""

    def __init__(self) -> None:
        self._progress: Any = None

    def _bars(self) -> Any:
        if self._progress is None:
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
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._progress.start()
        return self._progress

    def step(self, message: str) -> None:
        say(message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        if OPTIONS.quiet or OPTIONS.json or not sys.stderr.isatty():
            return NULL.task(description, total, unit)
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
