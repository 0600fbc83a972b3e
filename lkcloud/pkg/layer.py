"""Reproducible layer tars: sorted entries, owner 0:0, one fixed mtime, normalised modes."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Mapping
from pathlib import Path

from lkcloud.fsutil import atomic_output
from lkcloud.reproducible import source_date_epoch


def _info(name: str, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _dir(name: str, mtime: int) -> tarfile.TarInfo:
    info = _info(name, mtime)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def write_layer(entries: Mapping[str, Path], out: Path, *, directories: list[str], mtime: int | None = None) -> Path:
    """Write ``entries`` (relative path -> file or symlink on disk) and ``directories`` as a tar.

    Modes are normalised (directories 0755, files 0755 when executable by their owner, else
    0644) so that the result does not depend on the umask or on how the sources were checked
    out; hard links become separate files.
    """
    when = source_date_epoch() if mtime is None else mtime
    items: list[tuple[str, Path | None]] = [(d, None) for d in directories]
    listed = set(directories)
    items += [(rel, src) for rel, src in entries.items() if rel not in listed]
    with atomic_output(out) as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, source in sorted(items, key=lambda item: item[0]):
            if source is None:
                tar.addfile(_dir(rel, when))
                continue
            st = source.lstat()
            info = _info(rel, when)
            if stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(source)
                info.mode = 0o777
                tar.addfile(info)
            elif stat.S_ISDIR(st.st_mode):
                tar.addfile(_dir(rel, when))
            else:
                info.size = st.st_size
                info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                with source.open("rb") as data:
                    tar.addfile(info, data)
    return out
