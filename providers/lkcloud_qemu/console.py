"""The serial console log: follow it, wait for a line, show its tail.

QEMU writes the guest's serial console to a file; :class:`ConsoleReader` follows that file
and :func:`wait_for` waits (under a deadline) until a regular expression matches, the VM exits,
or time runs out. Matching is on substrings of the text with terminal escape sequences and
carriage returns removed, since SeaBIOS's escape codes share a line with what follows.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import ProviderError, TimeoutExceededError, UsageError
from lkcloud.provider.calls import wait_local

TAIL_LINES = 20
POLL_SECONDS = 0.05
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[ -/]*[0-~])|\r")  # CSI, then other ESC sequences
_OVERLAP = 4096  # characters searched again, so a match split across reads is found
# Console lines that say why a guest died; the first one found goes into the error message.
FATAL = re.compile(r"Kernel panic - not syncing:.*|Initramfs unpacking failed.*|No working init found.*")


def clean(text: str) -> str:
    """Text without terminal escape sequences and carriage returns."""
    return _ESCAPES.sub("", text)


class BootFailedError(ProviderError):
    """The console never showed what was waited for; ``console_tail`` holds its last lines."""

    def __init__(self, message: str, console_tail: tuple[str, ...], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.console_tail = console_tail


class ConsoleReader:
    """Follows a console log file from its start; ``echo`` sees each new chunk of raw bytes."""

    def __init__(self, path: Path, echo: Callable[[bytes], None] | None = None) -> None:
        self.path = path
        self._echo = echo
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._raw = ""

    def poll(self) -> bool:
        """Read what was written since the last poll; True when there was something."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return False
        if not chunk:
            return False
        self._offset += len(chunk)
        self._raw += self._decoder.decode(chunk)
        if self._echo is not None:
            self._echo(chunk)
        return True

    @property
    def text(self) -> str:
        return clean(self._raw)

    def search(self, pattern: re.Pattern[str], start: int = 0) -> re.Match[str] | None:
        return pattern.search(self.text, max(0, start - _OVERLAP))

    def fatal(self) -> str | None:
        """The first console line saying why the guest died (a kernel panic...), if any."""
        found = FATAL.search(self.text)
        return found.group(0).strip() if found else None

    def tail(self, lines: int = TAIL_LINES) -> tuple[str, ...]:
        kept = [line for line in self.text.splitlines() if line.strip()]
        return tuple(kept[-lines:])


@dataclass(frozen=True)
class Matched:
    """The console matched: the matched text and the whole (cleaned) line it is on."""

    text: str
    line: str


class _Pending(Exception):
    """Not matched yet; the VM still runs."""


class _Exited(ProviderError):
    def __init__(self, code: int) -> None:
        super().__init__(f"the VM exited with status {code}")
        self.code = code


def _check(reader: ConsoleReader, pattern: re.Pattern[str], exited: Callable[[], int | None]) -> Matched:
    searched = len(reader.text)
    code = exited()  # read the exit state first, so output written before exit is still seen
    reader.poll()
    found = reader.search(pattern, searched)
    if found is not None:
        text = reader.text
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.end())
        return Matched(found.group(0), text[start:None if end < 0 else end])
    if code is not None:
        raise _Exited(code)
    raise _Pending


def wait_for(
    reader: ConsoleReader, regex: str, *, timeout: float, exited: Callable[[], int | None],
) -> Matched:
    """Wait until the console matches ``regex``; ``exited`` returns the VM's exit code or None.

    Raises :class:`BootFailedError` (with the console tail) on timeout or when the VM exits first.
    """
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise UsageError(f"--wait-for {regex!r}: not a valid regular expression: {exc}") from exc
    def step() -> Matched | None:
        try:
            return _check(reader, pattern, exited)
        except _Pending:
            return None

    try:
        found = wait_local(f"the console to show {regex!r}", step, lambda m: m is not None, timeout=timeout,
                           poll=POLL_SECONDS)
        assert found is not None
        return found
    except TimeoutExceededError:
        what = f"the console did not show {regex!r} within {timeout:g} s"
    except _Exited as exc:
        what = f"the VM exited (qemu status {exc.code}) before the console showed {regex!r}"
    why = reader.fatal()
    raise BootFailedError(what + (f": {why}" if why else ""), reader.tail(),
                          hint=f"the console log is {reader.path}")
