"""The entry point: ^C while starting, SIGTERM and ^C during a build (cleanup, exit codes), and
errors as JSON."""

from __future__ import annotations

import importlib.abc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lkcloud.cli import main as entry
from tests.cli.conftest import ROOT, Runner, child_env, seed_workspace


class _InterruptingFinder(importlib.abc.MetaPathFinder):
    """Raises KeyboardInterrupt when the command tree is imported: ^C while lkcloud starts."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "lkcloud.cli.app":
            raise KeyboardInterrupt


def test_interrupt_while_starting_exits_130_quietly(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, "lkcloud.cli.app", raising=False)
    monkeypatch.delattr("lkcloud.cli.app", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptingFinder(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 130
    assert capsys.readouterr() == ("", "")


@pytest.fixture(scope="module")
def _slow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose build takes seconds: 48 MiB of random bytes to xz into the initrd."""
    from lkcloud.oci.store import ImageStore
    from tests.assemble.layers import directory, file, seed

    root = tmp_path_factory.mktemp("slow") / "ws"
    root.mkdir()
    seed_workspace(root)
    seed(ImageStore(root / "cache"), "lkcloud/hello-service:dev",
         [[directory("bin"), file("bin/hello", "#!/bin/sh\n", 0o755), file("blob", os.urandom(48 << 20))]])
    return root


@pytest.fixture
def slow_build(_slow_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(_slow_template, tmp_path / "ws"))


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".build-" in p.name or p.name.startswith("ok-"))


def _wait_for(proc: subprocess.Popen[bytes], out: Path, moment: str) -> None:
    """Until the build is under way (its work directory exists), or until it says ``moment``."""
    assert proc.stderr is not None
    if moment == "started":
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(out.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        return
    for line in iter(proc.stderr.readline, b""):
        if moment.encode() in line:
            return
    raise AssertionError(f"the build never said {moment!r}")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["started", "writing the initrd"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_a_build_cleans_up(slow_build: Path, sig: signal.Signals, code: int, moment: str) -> None:
    out = slow_build / "out"
    proc = subprocess.Popen([sys.executable, "-m", "lkcloud.cli.main", "build", "ok.yml", "--dir", "out",
                             "--compression", "xz", "-f", "kernel+initrd", "-f", "tar"],
                            cwd=slow_build, env=child_env({"LKCLOUD_CACHE": str(slow_build / "cache")}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(proc, out, moment)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert b"Traceback" not in stderr
    assert not out.exists()  # no work directory, no outputs, not even the directory the build made
    assert _leftovers(slow_build) == []
    found = subprocess.run([sys.executable, "-m", "lkcloud.cli.main", "build", "ok.yml", "--dir", "again"],
                           cwd=slow_build, env=child_env({"LKCLOUD_CACHE": str(slow_build / "cache")}),
                           capture_output=True, check=False)
    assert found.returncode == 0, found.stderr  # the cache is intact: nothing was taken for damaged


def test_errors_as_json_on_stdout(cli: Runner) -> None:
    found = cli("build", "ok.yml", "--dir", "afile", "--json")
    assert found.code == 2 and found.err == ""
    problem = "--dir afile: not a directory"
    assert json.loads(found.out) == {"error": problem, "problems": [problem], "hint": None, "exit_code": 2}


def test_usage_errors_as_json(cli: Runner) -> None:
    found = cli("--json", "cache", "ls", "--bogus")
    assert found.code == 2 and "--bogus" in json.loads(found.out)["error"]


def test_the_console_script_runs(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "from lkcloud.cli.main import run; run()", "--version"],
                          env=child_env({}), cwd=ROOT, capture_output=True, check=False)
    assert proc.returncode == 0 and proc.stdout.decode().startswith("lkcloud ")
