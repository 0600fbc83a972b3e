"""What killed runs leave behind, and its removal.

A download or a build killed with SIGKILL (or a machine that lost power) leaves temporary files
that nothing else removes: ``blobs/sha256/.tmp-*.part`` (and other ``.*.part`` files) in the
image cache, and ``.NAME.build-*`` work directories beside a build's outputs. Anything of that
kind untouched for a day is a leftover: the image cache is swept the next time a process writes
to it, and ``lkcloud cache prune`` sweeps the cache and the build directories it is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

STALE_AFTER = 86400.0  # seconds untouched after which a temporary file or work directory is a leftover


def _newest(path: Path) -> float:
    """The latest mtime of ``path`` and, for a directory, of what it directly holds."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        with os.scandir(path) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def _stale(candidates: Iterable[Path], older_than: float) -> Iterator[Path]:
    cutoff = time.time() - older_than
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            if _newest(path) < cutoff:
                yield path


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot remove the leftover %s: %s", path, exc.strerror)
        return False
    log.info("removed the leftover %s", path)
    return True


def sweep_cache(root: Path, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove temporary ``.*.part`` files of the image cache at ``root`` untouched for ``older_than`` s."""
    candidates = [*root.glob(".*.part"), *(root / "blobs" / "sha256").glob(".*.part")]
    return [path for path in _stale(candidates, older_than) if _remove(path)]


def sweep_build_dirs(directory: Path, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove ``.NAME.build-*`` work directories in ``directory`` untouched for ``older_than`` s."""
    candidates = [path for path in directory.glob(".*.build-*") if path.is_dir() and not path.is_symlink()]
    return [path for path in _stale(candidates, older_than) if _remove(path)]


@dataclass(frozen=True)
class Pruned:
    """What ``lkcloud cache prune`` removed."""

    leftovers: list[Path] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"removed {path}" for path in self.leftovers] + [f"removed blob {d}" for d in self.blobs]
        return "\n".join(lines) or "nothing to prune"


def prune(cache: Path, build_dirs: Iterable[Path] = (), older_than: float = STALE_AFTER) -> Pruned:
    """Remove the leftovers of the cache at ``cache`` and of ``build_dirs``, and the blobs no
    image of the cache uses (leased blobs are kept)."""
    from lkcloud.oci.inventory import unreferenced
    from lkcloud.oci.layout import Layout

    leftovers = sweep_cache(cache, older_than)
    for directory in build_dirs:
        leftovers += sweep_build_dirs(directory, older_than)
    layout = Layout(cache)
    blobs: list[str] = []
    if (cache / "index.json").exists():
        with layout.lock():
            for digest in unreferenced(layout):
                layout.remove_blob(digest)
                blobs.append(digest)
    return Pruned(leftovers, blobs)
