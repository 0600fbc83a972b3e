"""Compressed initrd archives, cached by what they hold: a release that changes one component
compresses that component's archive again and copies the others.

An archive is keyed by the SHA-256 of its uncompressed newc bytes and the compression (with
:data:`VERSION`, bumped when a compressor's output changes); the entry is the compressed bytes
and their SHA-256, checked as they are copied out (a damaged entry is compressed afresh and
replaced). Entries live under ``~/.cache/lkcloud/initrd``, written through a temporary name;
the cache is kept under :data:`LIMIT` bytes, the least recently used entries going first.
Compression is deterministic, so a cached archive is byte for byte the one a fresh compression
would write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lkcloud.settings import user_cache_dir

VERSION = "1"
LIMIT = 2 << 30
CHUNK = 1 << 20
_DIGEST = 32


def cache_dir() -> Path:
    return user_cache_dir() / "initrd"


def key(raw_digest: str, compression: str) -> str:
    return f"{compression}-v{VERSION}-{raw_digest}"


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def copy_out(name: str, out: BinaryIO, root: Path | None = None) -> bool:
    """Write the cached archive ``name`` to ``out``; False (nothing written) when it is absent or
    damaged (a damaged entry is removed)."""
    path = (root or cache_dir()) / name
    try:
        with path.open("rb") as fh:
            stored = fh.read(_DIGEST)
            digest = hashlib.sha256()
            for chunk in _chunks(fh):
                digest.update(chunk)
            if digest.digest() != stored:
                raise ValueError(name)
            fh.seek(_DIGEST)
            for chunk in _chunks(fh):
                out.write(chunk)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used
    return True


def store(name: str, compressed: BinaryIO, root: Path | None = None) -> None:
    """Keep ``compressed`` (read from its start) as ``name``; a cache that cannot be written only
    costs time."""
    directory = root or cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        compressed.seek(0)
        for chunk in _chunks(compressed):
            digest.update(chunk)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".part-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(digest.digest())
            compressed.seek(0)
            for chunk in _chunks(compressed):
                fh.write(chunk)
        os.replace(tmp, directory / name)
        _trim(directory)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def _trim(directory: Path, limit: int = LIMIT) -> None:
    entries = []
    for entry in os.scandir(directory):
        with contextlib.suppress(OSError):
            info = entry.stat()
            entries.append((info.st_mtime, info.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            return
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size
