"""The local image directory that ``lkcloud push qemu`` fills, content-addressed so that the
same content is stored once and a rebuild never changes what a running VM boots.

A disk image or ISO is stored as ``<family>-<digest prefix><suffixes>``; a kernel+initrd build as
``<family>-<digest prefix>-kernel``, ``-initrd.img`` and ``-cmdline``, whose image id is the
``<images>/<family>-<digest prefix>`` prefix.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from lkcloud.diskfile import KERNEL_SUFFIX, Kind, kernel_arch
from lkcloud.fsutil import atomic_path
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import Artifact, ImageRecord, PushResult

PROVIDER = "qemu"
DIGEST_CHARS = 12
KERNEL_PARTS = (KERNEL_SUFFIX, "-initrd.img", "-cmdline")


def _suffixes(path: Path) -> str:
    return "".join(path.suffixes) or ".img"


def kernel_digest(prefix: str) -> str:
    """One digest over the three parts of a kernel+initrd build."""
    digest = hashlib.sha256()
    for part in KERNEL_PARTS:
        path = Path(prefix + part)
        digest.update(f"{part}\n".encode())
        if path.is_file():
            with path.open("rb") as fh:
                digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def _copy(src: Path, dest: Path, reporter: Reporter) -> None:
    if dest.is_file():
        return
    reporter.step(f"storing {src.name} as {dest}")
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def push(artifact: Artifact, images: Path, reporter: Reporter = NULL) -> PushResult:
    """Store the artifact in ``images`` (once per content); its stored path (or prefix) is the id."""
    images.mkdir(parents=True, exist_ok=True)
    if artifact.kind == Kind.KERNEL:
        prefix = str(artifact.path).removesuffix(KERNEL_SUFFIX)
        digest = kernel_digest(prefix)
        stored = images / f"{artifact.name}-{digest[:DIGEST_CHARS]}"
        reused = Path(f"{stored}{KERNEL_SUFFIX}").is_file()
        for part in KERNEL_PARTS:
            if Path(prefix + part).is_file():
                _copy(Path(prefix + part), Path(f"{stored}{part}"), reporter)
        image_id = str(stored)
    else:
        digest = artifact.digest.partition(":")[2] or artifact.digest
        dest = images / f"{artifact.name}-{digest[:DIGEST_CHARS]}{_suffixes(artifact.path)}"
        reused = dest.is_file()
        _copy(artifact.path, dest, reporter)
        image_id = str(dest)
    return PushResult(provider=PROVIDER, id=image_id, name=Path(image_id).name, family=artifact.name,
                      digest=artifact.digest, arch=str(artifact.arch), reused=reused,
                      bytes_sent=0 if reused else artifact.size,
                      details={"boot_mode": artifact.boot_mode.value, "kind": artifact.kind})


def _created(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def _family(name: str) -> str:
    """``hello-0123456789ab`` -> ``hello``."""
    head, _, tail = name.rpartition("-")
    return head if head and len(tail) == DIGEST_CHARS else name


def list_images(images: Path, in_use: set[str]) -> list[ImageRecord]:
    """The stored images, newest first; ``in_use`` holds the ids running VMs boot from."""
    if not images.is_dir():
        return []
    records = []
    for path in images.iterdir():
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(KERNEL_PARTS[1:]):
            continue
        is_kernel = path.name.endswith(KERNEL_SUFFIX)
        image_id = str(path)[: -len(KERNEL_SUFFIX)] if is_kernel else str(path)
        name = Path(image_id).name.split(".")[0]
        arch = kernel_arch(path) if is_kernel else None
        records.append(ImageRecord(provider=PROVIDER, id=image_id, name=name, created=_created(path),
                                   family=_family(name), in_use=image_id in in_use, arch=str(arch or ""),
                                   details={"bytes": path.stat().st_size, "kernel": is_kernel}))
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def delete(record: ImageRecord, reporter: Reporter = NULL) -> None:
    """Remove a stored image (every part of a kernel+initrd)."""
    reporter.step(f"deleting {record.id}")
    paths = [Path(record.id + part) for part in KERNEL_PARTS] if record.details.get("kernel") else [Path(record.id)]
    for path in paths:
        path.unlink(missing_ok=True)


def display(image_id: str) -> str:
    """A short form of an image id for tables: the stored file name without the directory."""
    return Path(image_id).name
