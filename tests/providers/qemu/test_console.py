"""Following the console log and waiting for a marker (no VM needed: the log is a plain file)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud_qemu.console import BootFailedError, ConsoleReader, clean, wait_for

SEABIOS = (b"\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\n"
           b"Booting from ROM..\x1bc\x1b[?7l\x1b[2Jhello MARKER\r\n")


def _running() -> None:
    return None


def test_clean_removes_escapes_and_carriage_returns() -> None:
    assert clean(SEABIOS.decode()) == "SeaBIOS (version 1.16.2)\nBooting from ROM..hello MARKER\n"


def test_matches_a_substring_after_escape_codes(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(SEABIOS)
    seen: list[bytes] = []
    matched = wait_for(ConsoleReader(log, seen.append), "MARK.R", timeout=5, exited=_running)
    assert matched.text == "MARKER" and matched.line == "Booting from ROM..hello MARKER"
    assert b"".join(seen) == SEABIOS


def test_waits_for_output_written_later(tmp_path: Path) -> None:
    log = tmp_path / "console.log"  # does not exist yet
    writer = threading.Timer(0.3, lambda: log.write_bytes("caf\u00e9 ready\n".encode()))
    writer.start()
    try:
        matched = wait_for(ConsoleReader(log), r"caf. ready", timeout=30, exited=_running)
    finally:
        writer.cancel()
    assert matched.text == "caf\u00e9 ready"


def test_multibyte_character_split_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    data = "\u00e9t\u00e9\n".encode()
    log.write_bytes(data[:1])
    reader = ConsoleReader(log)
    assert reader.poll()
    with log.open("ab") as fh:
        fh.write(data[1:])
    assert reader.poll() and reader.text == "\u00e9t\u00e9\n"
    assert not reader.poll()


def test_timeout_reports_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(40)))
    with pytest.raises(BootFailedError, match=r"did not show 'never' within 0.2 s") as info:
        wait_for(ConsoleReader(log), "never", timeout=0.2, exited=_running)
    assert info.value.console_tail == tuple(f"line {i}" for i in range(20, 40))
    assert info.value.hint is not None and str(log) in info.value.hint


def test_exit_before_match_names_the_panic(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("[ 2.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n[ 2.6] trace\n")
    with pytest.raises(BootFailedError, match=r"exited .*status 0.*Kernel panic - not syncing: Attempted") as info:
        wait_for(ConsoleReader(log), "MARKER", timeout=30, exited=lambda: 0)
    assert info.value.console_tail[-1] == "[ 2.6] trace"


def test_output_written_just_before_exit_still_matches(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("MARKER\n")
    assert wait_for(ConsoleReader(log), "MARKER", timeout=30, exited=lambda: 0).text == "MARKER"


def test_bad_regex_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a valid regular expression"):
        wait_for(ConsoleReader(tmp_path / "x"), "(", timeout=1, exited=_running)
