"""The one gateway for running external programs.

Every tool lkcloud runs goes through :func:`run` (or :func:`spawn` for long-lived processes such
as QEMU): an argv list, never a shell string; logged at debug; a typed error with the tail of
stderr when it fails; a clear install hint when the program is missing.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import ToolFailedError, ToolMissingError

log = logging.getLogger(__name__)

# program -> Debian package that provides it, for install hints.
DEBIAN_PACKAGES: dict[str, str] = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-system-aarch64": "qemu-system-arm",
    "qemu-img": "qemu-utils",
    "sgdisk": "gdisk",
    "sfdisk": "fdisk",
    "mformat": "mtools",
    "mcopy": "mtools",
    "mmd": "mtools",
    "mdir": "mtools",
    "syslinux": "syslinux",
    "xorriso": "xorriso",
    "objcopy": "binutils",
    "apt-get": "apt",
    "dpkg-deb": "dpkg",
    "docker-registry": "docker-registry",
    "busybox": "busybox-static",
    "fsck.fat": "dosfstools",
    "mkfs.fat": "dosfstools",
    "cpio": "cpio",
    "zstd": "zstd",
    "tar": "tar",
    "gzip": "gzip",
    "curl": "curl",
}

STDERR_TAIL_LINES = 12


@dataclass(frozen=True)
class Completed:
    """The result of a finished program."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")


def which(program: str) -> str:
    """Return the absolute path of ``program`` or raise :class:`ToolMissingError` with a hint."""
    found = shutil.which(program)
    if found is None:
        # Debian installs some tools in sbin, which a non-root PATH may lack.
        for extra in ("/usr/sbin", "/sbin"):
            candidate = Path(extra) / program
            if candidate.exists() and os.access(candidate, os.X_OK):
                return str(candidate)
        package = DEBIAN_PACKAGES.get(program, program)
        raise ToolMissingError(
            f"{program} is not installed", hint=f"install it with: apt-get install {package}"
        )
    return found


def _tail(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return " | ".join(lines[-STDERR_TAIL_LINES:])


def _argv(argv: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The argv as strings, the program found on PATH (ToolMissingError with a hint otherwise)."""
    args = [os.fspath(a) for a in argv]
    args[0] = which(args[0]) if os.sep not in args[0] else args[0]
    return args


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    timeout: float | None = None,
    capture: bool = True,
) -> Completed:
    """Run a program to completion and return its output (built on :func:`spawn`).

    Raises :class:`ToolMissingError` when the program is absent and :class:`ToolFailedError`
    (with the tail of stderr) when it exits non-zero and ``check`` is true. The program is
    killed if this process is interrupted or ``timeout`` passes.
    """
    args = _argv(argv)
    pipe = subprocess.PIPE if capture else None
    proc = spawn(args, cwd=cwd, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                 stdout=pipe, stderr=pipe, new_session=False)
    name = Path(args[0]).name
    try:
        stdout, stderr = proc.communicate(input, timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise ToolFailedError(f"{name} did not finish within {timeout:g} s") from exc
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    done = Completed(tuple(args), proc.returncode, stdout or b"", stderr or b"")
    if check and proc.returncode != 0:
        tail = _tail(done.stderr) or _tail(done.stdout)
        raise ToolFailedError(f"{name} failed with exit code {proc.returncode}" + (f": {tail}" if tail else ""))
    return done


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = subprocess.PIPE,
    stderr: int | None = subprocess.STDOUT,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a long-lived program (QEMU, a local server) and return its handle.

    The caller owns the process and must stop it; ``new_session`` puts it in its own process
    group so that the whole group can be killed.
    """
    args = _argv(argv)
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    log.debug("run: %s", " ".join(args))
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=full_env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=new_session,
    )
