"""Built images as push inputs: a file, its content digest, its boot mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud.providers import Artifact

_CHUNK = 4 << 20


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's content (holes read as zeros)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def from_file(path: Path, *, name: str | None = None, boot_mode: BootMode = BootMode.HYBRID,
              arch: str = "amd64") -> Artifact:
    """An :class:`Artifact` for a disk image file; the name defaults to the file's stem."""
    if not path.is_file():
        raise UsageError(f"{path}: no such image file")
    stem = path.name.split(".")[0]
    return Artifact(path=path, name=name or stem, digest=file_digest(path), boot_mode=boot_mode,
                    arch=arch, size=path.stat().st_size)
