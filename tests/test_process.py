"""The subprocess gateway: typed errors with stderr tails and install hints."""

from __future__ import annotations

import pytest

from lkcloud.errors import ToolFailedError, ToolMissingError
from lkcloud.process import run, spawn


def test_run_captures_output() -> None:
    assert run(["sh", "-c", "echo hello"]).text == "hello\n"


def test_failure_carries_stderr_tail() -> None:
    with pytest.raises(ToolFailedError, match="exit code 3: oops"):
        run(["sh", "-c", "echo oops >&2; exit 3"])


def test_missing_tool_has_install_hint() -> None:
    with pytest.raises(ToolMissingError) as info:
        run(["lkcloud-no-such-tool"])
    assert info.value.hint and "apt-get install" in info.value.hint


def test_timeout_is_a_tool_failure() -> None:
    with pytest.raises(ToolFailedError, match="did not finish"):
        run(["sleep", "5"], timeout=0.2)


def test_spawn_runs_in_own_session() -> None:
    proc = spawn(["sh", "-c", "echo started"])
    out, _ = proc.communicate(timeout=5)
    assert out == b"started\n"
