"""Small file-system helpers: atomic outputs, digests of what is written."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


@contextlib.contextmanager
def atomic_output(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file in the same directory, renamed on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed and nothing
    appears under the final name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, mode: int = 0o644) -> Iterator[Path]:
    """Like :func:`atomic_output` but yields a *path* for tools that write files: not yet created,
    with the final file name (qemu-img records it in VMDK descriptors), in a private directory
    beside ``path``. It is renamed into place on success; on failure nothing appears.

    The file does not exist beforehand so that writers create it rather than truncate it: on ext4
    truncating a file to zero makes ``close()`` start writing back everything written since."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        tmp = scratch / path.name
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Tee(io.RawIOBase):
    """Forwards writes to ``out`` and feeds every byte to ``hashes`` on the way."""

    def __init__(self, out: BinaryIO, hashes: tuple[hashlib._Hash, ...]) -> None:
        self._out, self._hashes = out, hashes

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data)
        for digest in self._hashes:
            digest.update(view)
        self._out.write(view)
        return len(view)


def hashing_writer(out: BinaryIO, *hashes: hashlib._Hash) -> io.BufferedWriter:
    """A writer onto ``out`` that updates ``hashes`` as bytes pass: a digest of written data
    without reading it back. Flush (or close) it before using ``out`` or the digests."""
    return io.BufferedWriter(_Tee(out, hashes), 1 << 20)


def ancestors(names: Iterable[str]) -> set[str]:
    """Every ancestor directory of the relative POSIX paths ``names`` (not the root)."""
    found: set[str] = set()
    for name in names:
        parent = posixpath.dirname(name)
        while parent and parent not in found:
            found.add(parent)
            parent = posixpath.dirname(parent)
    return found
