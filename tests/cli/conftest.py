"""A workspace for CLI tests: a seeded image cache, configs good and bad, and a runner that
captures exit code, stdout and stderr of one ``lkcloud`` command (in-process, or in a child)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.oci.store import ImageStore
from tests.assemble.layers import directory, file, seed, tar_bytes

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "localhost:9"  # the discard port: nothing listens, connections are refused at once

OK_YML = """kernel:
  image: lkcloud/kernel:dev
  cmdline: "console=ttyS0"
init:
  - lkcloud/init:dev
services:
  - name: hello
    image: lkcloud/hello-service:dev
"""
TYPO_YML = f"""kernel:
  image: lkcloud/kernel:dev
init:
  - lkcloud/init:dev
services:
  - name: hello
    image: {UNREACHABLE}/lkcloud/helo-service:dev
"""
FLEET_YML = "name: workers\nprovider: qemu\nimage: ok.yml\nsize: 2\n"


def seed_workspace(root: Path, kernel: bytes = b"\x7fKERNEL") -> None:
    """``cache/`` with the images of ok.yml (and one on an unreachable registry), and the files
    the bad-input table names."""
    store = ImageStore(root / "cache")
    modules = tar_bytes([directory("lib"), directory("lib/modules"), file("lib/modules/m.ko", "x")])
    seed(store, "lkcloud/kernel:dev", [[file("kernel", kernel), file("kernel.tar", modules)]])
    seed(store, "lkcloud/init:dev", [[directory("bin"), file("bin/init", "#!/bin/sh\n", 0o755)]])
    service = [[directory("bin"), file("bin/hello", "#!/bin/sh\necho hello\n", 0o755)]]
    seed(store, "lkcloud/hello-service:dev", service, entrypoint=["/bin/hello"])
    seed(store, f"{UNREACHABLE}/lkcloud/hello-service:dev", service, entrypoint=["/bin/hello"])
    shutil.rmtree(root / "layers", ignore_errors=True)  # seed's scratch
    (root / "ok.yml").write_text(OK_YML)
    (root / "typo.yml").write_text(TYPO_YML)
    (root / "fleet.yml").write_text(FLEET_YML)
    (root / "afile").write_text("a regular file\n")
    (root / "README.md").write_text("# not an archive\n\nJust text.\n")


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-template") / "ws"
    root.mkdir()
    seed_workspace(root)
    return root


@pytest.fixture
def workspace(_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the workspace as the working directory, with no user config and the
    cache at ``cache/``."""
    root = tmp_path / "ws"
    shutil.copytree(_template, root, symlinks=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("LKCLOUD_CACHE", str(root / "cache"))
    for name in [n for n in os.environ if n.startswith("LKCLOUD_") and n != "LKCLOUD_CACHE"]:
        monkeypatch.delenv(name)
    return root


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    stdout: bytes = b""  # exactly as written (children only)

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if not line.startswith("lkcloud: hint:")]


Runner = Callable[..., Outcome]


@pytest.fixture
def cli(workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``cli(*argv, env={}, stdin=b"", child=False)``: run lkcloud in the workspace."""

    def run(*argv: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
            child: bool = False, prefix: tuple[str, ...] = ()) -> Outcome:
        if child:
            return run_child(list(argv), workspace, env or {}, stdin, prefix)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        context.reset()
        return Outcome(code, out, err)

    return run


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "providers")])
    env.update(extra)
    return env


def run_child(argv: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes | None,
              prefix: tuple[str, ...] = ()) -> Outcome:
    """lkcloud in a child process (``prefix``: a command that runs it, such as setpriv)."""
    proc = subprocess.run([*prefix, sys.executable, "-m", "lkcloud.cli.main", *argv], cwd=cwd,
                          env=child_env(env), input=stdin or b"", capture_output=True, timeout=120, check=False)
    return Outcome(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(), proc.stdout)


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under ``root``: (mode, size, mtime) by path."""
    found = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if path.is_dir():  # a probe made and removed changes a directory's mtime, not its content
            found[str(path.relative_to(root))] = (st.st_mode, 0, 0)
        else:
            found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found
