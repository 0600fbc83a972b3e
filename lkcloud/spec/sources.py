"""Which host files a config's ``files: source:`` may copy into an image.

A config often comes from a cloned repository, and whatever ``source:`` names ends up in an
image that may be published; LinuxKit reads any path. lkcloud reads a relative source from the
directory of the YAML file that names it, and by default only regular files inside that directory
(after symlinks are resolved), plus public keys (``~/.ssh/*.pub``, LinuxKit's idiom for
``authorized_keys``). Anything else outside it, and anything under ``/proc``, ``/sys`` or ``/dev``,
is refused unless the ``allow-host-files`` setting (``LKCLOUD_ALLOW_HOST_FILES=1``; never from a
project's ``lkcloud.toml``) is on; what is not a regular file is always refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lkcloud import settings
from lkcloud.errors import UsageError
from lkcloud.spec.model import Config, File

ALLOW_HOST_FILES = settings.declare(
    "allow-host-files", False, "let files: source: read any regular host file, not only those beside the YAML",
    not_from_project="set LKCLOUD_ALLOW_HOST_FILES=1 in the environment or in ~/.config/lkcloud/config.toml",
)
ALLOW = "LKCLOUD_ALLOW_HOST_FILES=1"
HOST_STATE = (Path("/proc"), Path("/sys"), Path("/dev"))
ALLOW_HINT = ("move the file beside the YAML, or pass --allow-host-files (or set LKCLOUD_ALLOW_HOST_FILES=1) to let"
              " configs read any host file")


class SourceError(UsageError):
    """A ``files: source:`` that cannot or may not be read."""


def allowed(flag: bool | None = None) -> bool:
    """Whether host files outside a config's directory may be read (flag > env > user config)."""
    return bool(settings.Settings().get(ALLOW_HOST_FILES, flag))


def base_dir(f: File) -> Path:
    """The directory a relative source is read from: the YAML file's own."""
    config = Path(f.location.file) if f.location is not None else Path("-")
    return config.parent.absolute()


def where(f: File, index: int) -> str:
    if f.location is None:
        return f"files[{index}].source:"
    return f"{f.location.file}:{f.location.line}: {f.location.path}.source:"


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _public_key(path: Path, real: Path) -> bool:
    keys = Path.home() / ".ssh"
    return _under(path, keys) and path.name.endswith(".pub") and real.name.endswith(".pub")


def _check_place(shown: str, path: Path, real: Path, base: Path) -> None:
    state = next((root for root in HOST_STATE if _under(real, root)), None)
    if state is not None:
        raise SourceError(f"source {shown} is under {state}: host state is not copied into images "
                          f"({ALLOW} allows it)", hint=ALLOW_HINT)
    if not _under(real, base) and not _public_key(path, real):
        raise SourceError(f"source {shown} is outside the config's directory {base} ({ALLOW} allows it)",
                          hint=ALLOW_HINT)


def resolve(f: File, allow_host: bool = False) -> Path | None:
    """The real path of ``f.source`` when it may be read; None for a missing optional source.
    SourceError (one line, without the file:line) otherwise."""
    assert f.source is not None
    base = base_dir(f)
    path = base / os.path.expanduser(f.source)
    real = Path(os.path.realpath(path))
    relative = "" if Path(f.source).is_absolute() else f" (relative to the config's directory {base})"
    shown = f'"{f.source}"' + (f" -> {real}" if str(real) != f.source else "")
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        if f.optional:
            return None
        raise SourceError(f"cannot read source {shown}{relative}: no such file") from None
    except OSError as exc:
        raise SourceError(f"cannot read source {shown}{relative}: {exc.strerror}") from exc
    if not allow_host:
        _check_place(shown, path, real, base)
    if not stat.S_ISREG(mode):
        raise SourceError(f"source {shown} is not a regular file", hint="give a regular file")
    if not os.access(real, os.R_OK):
        raise SourceError(f"cannot read source {shown}{relative}: permission denied")
    return real


def problems(config: Config, allow_host: bool | None = None) -> list[str]:
    """One line per ``files: source:`` of ``config`` that cannot or may not be read."""
    allow = allowed(allow_host)
    found = []
    for index, f in enumerate(config.files):
        if f.source is None:
            continue
        try:
            resolve(f, allow)
        except SourceError as exc:
            found.append(f"{where(f, index)} {exc.message}")
    return found
