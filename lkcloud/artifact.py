"""Image files as push inputs: a file, its content digest, its kind and boot mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lkcloud import diskfile
from lkcloud.errors import LkcloudError, UsageError
from lkcloud.platform import Arch, BootMode, parse_arch
from lkcloud.provider.types import Artifact


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's content (holes read as zeros)."""
    with path.open("rb") as fh:
        return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()


def from_file(path: Path, *, name: str | None = None, boot_mode: BootMode | None = None,
              arch: Arch | str = Arch.AMD64) -> Artifact:
    """An :class:`Artifact` for an image file; the family defaults to the file's stem, the boot
    mode to what the partition table says (else hybrid), the kind to what the bytes say."""
    if not path.is_file():
        raise UsageError(f"{path}: no such image file")
    try:
        kind = diskfile.sniff(path)
    except LkcloudError:
        kind = diskfile.Kind.RAW  # unmarked data: the provider treats it as a raw disk
    mode = boot_mode or diskfile.boot_mode(path) or BootMode.HYBRID
    stem = path.name.split(".")[0].removesuffix(diskfile.KERNEL_SUFFIX)
    return Artifact(path=path, name=name or stem, digest=file_digest(path), boot_mode=mode,
                    arch=parse_arch(arch), size=path.stat().st_size, kind=kind)
