"""The local image directory that ``lkcloud push qemu`` fills: one file per pushed artifact,
named ``<name>-<digest prefix><suffixes>`` so the same content is stored once."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from lkcloud.fsutil import atomic_path
from lkcloud.progress import NULL, Reporter
from lkcloud.providers import Artifact, ImageRecord, PushResult

PROVIDER = "qemu"
DIGEST_CHARS = 12


def _suffixes(path: Path) -> str:
    return "".join(path.suffixes) or ".img"


def stored_name(artifact: Artifact) -> str:
    digest = artifact.digest.partition(":")[2] or artifact.digest
    return f"{artifact.name}-{digest[:DIGEST_CHARS]}{_suffixes(artifact.path)}"


def push(artifact: Artifact, images: Path, reporter: Reporter = NULL) -> PushResult:
    """Copy the artifact into ``images`` (once per content digest); its path is the image id."""
    dest = images / stored_name(artifact)
    reused = dest.is_file()
    if not reused:
        reporter.step(f"copying {artifact.path} to {dest}")
        with atomic_path(dest) as tmp:
            shutil.copyfile(artifact.path, tmp)
    return PushResult(provider=PROVIDER, name=artifact.name, image_id=str(dest), reused=reused,
                      details={"digest": artifact.digest, "boot_mode": artifact.boot_mode.value})


def _created(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def list_images(images: Path, in_use: set[str]) -> list[ImageRecord]:
    """The stored images, newest first; ``in_use`` holds the paths running VMs boot from."""
    if not images.is_dir():
        return []
    files = [p for p in images.iterdir() if p.is_file() and not p.name.startswith(".")]
    files.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    return [
        ImageRecord(provider=PROVIDER, id=str(p), name=p.name.split(".")[0], created=_created(p),
                    in_use=str(p.resolve()) in in_use, details={"bytes": p.stat().st_size})
        for p in files
    ]


def prune(images: Path, in_use: set[str], keep: int, reporter: Reporter = NULL,
          dry_run: bool = False) -> list[ImageRecord]:
    """Delete all but the ``keep`` newest images, never one a running VM uses; returns the deleted."""
    removed = []
    for record in list_images(images, in_use)[max(keep, 0):]:
        if record.in_use:
            continue
        if not dry_run:
            reporter.step(f"deleting {record.id}")
            Path(record.id).unlink(missing_ok=True)
        removed.append(record)
    return removed
