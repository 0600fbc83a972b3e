"""An OCI image layout on disk (``oci-layout``, ``index.json``, ``blobs/sha256/``), as LinuxKit keeps it.

Blobs are written through a temporary name in their directory, checked against their digest,
then renamed; ``index.json`` is rewritten the same way under a file lock (``.lock``), so several
processes can share one cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import filelock

from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.fsutil import atomic_output
from lkcloud.oci import media
from lkcloud.oci.api import Descriptor, Platform

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
LOCK_TIMEOUT = 300.0


def load_json(data: bytes, what: str) -> dict[str, Any]:
    """``data`` parsed as a JSON object; RegistryError naming ``what`` otherwise."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return doc


def dump_json(doc: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, so equal documents hash equally."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor_from(doc: dict[str, Any]) -> Descriptor:
    platform = doc.get("platform")
    return Descriptor(
        media_type=str(doc.get("mediaType", "")),
        digest=media.check_digest(str(doc.get("digest", ""))),
        size=int(doc.get("size", 0)),
        annotations=tuple(sorted((str(k), str(v)) for k, v in (doc.get("annotations") or {}).items())),
        platform=None
        if not isinstance(platform, dict)
        else Platform(
            os=str(platform.get("os", "")),
            architecture=str(platform.get("architecture", "")),
            variant=platform.get("variant") or None,
        ),
    )


def descriptor_to(desc: Descriptor) -> dict[str, Any]:
    doc: dict[str, Any] = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
    if desc.annotations:
        doc["annotations"] = dict(desc.annotations)
    if desc.platform is not None:
        plat: dict[str, str] = {"architecture": desc.platform.architecture, "os": desc.platform.os}
        if desc.platform.variant:
            plat["variant"] = desc.platform.variant
        doc["platform"] = plat
    return doc


def ref_name(desc: Descriptor) -> str | None:
    return dict(desc.annotations).get(media.REF_NAME)


class Layout:
    """The layout at ``root``; created on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: filelock.BaseFileLock | None = None

    # --- blobs -----------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = media.check_digest(digest).partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        try:
            found = self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            return False
        return size is None or found == size

    def read_blob(self, digest: str, *, what: str = "blob") -> bytes:
        """A small blob's bytes, checked against its digest."""
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"{what} {digest} is not in the cache at {self.root}") from exc
        if media.sha256(data) != digest:
            raise DigestMismatchError(f"cached {what} {digest} does not match its content")
        return data

    def open_blob(self, digest: str, size: int | None = None, *, what: str = "blob") -> io.BufferedReader:
        try:
            handle = self.blob_path(digest).open("rb")
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"{what} {digest} is not in the cache at {self.root}") from exc
        return media.verified(handle, digest, size, what=what)

    def write_blob(self, data: bytes) -> str:
        """Store ``data``; returns its digest."""
        digest = media.sha256(data)
        if not self.has_blob(digest, len(data)):
            self.ensure()
            with atomic_output(self.blob_path(digest)) as out:
                out.write(data)
        return digest

    def write_blob_stream(
        self,
        chunks: Iterator[bytes],
        digest: str | None = None,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[str, int]:
        """Store a stream of bytes, checked against ``digest`` (and ``size``) before it becomes
        visible; with no digest given, the content's digest names it. Returns (digest, size)."""
        self.ensure()
        directory = self.root / "blobs" / "sha256"
        hasher, count = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                    count += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            # No fsync: every read checks the digest, so a blob torn by a crash is fetched again.
            actual = "sha256:" + hasher.hexdigest()
            if digest is not None and (actual != digest or (size is not None and size != count)):
                raise DigestMismatchError(
                    f"blob {digest} does not match its content (got {actual}, {count} bytes)",
                    hint="the source served corrupt data; nothing was cached",
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.blob_path(actual))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return actual, count

    def remove_blob(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.blob_path(digest).unlink()

    def blobs(self) -> list[str]:
        directory = self.root / "blobs" / "sha256"
        if not directory.is_dir():
            return []
        return sorted(f"sha256:{p.name}" for p in directory.iterdir() if not p.name.startswith("."))

    # --- index.json --------------------------------------------------------------------------
    def ensure(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if not (self.root / "oci-layout").exists():
            with atomic_output(self.root / "oci-layout") as out:
                out.write(dump_json(LAYOUT_VERSION))
        if not (self.root / "index.json").exists():
            with self.lock():
                if not (self.root / "index.json").exists():
                    self._write_index([])

    def lock(self) -> filelock.BaseFileLock:
        """The layout's lock; one object per Layout, so that it can be taken again while held."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = filelock.FileLock(str(self.root / ".lock"), timeout=LOCK_TIMEOUT)
        return self._lock

    def entries(self) -> list[Descriptor]:
        """The descriptors of ``index.json``, in file order."""
        path = self.root / "index.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        doc = load_json(data, f"{path}")
        return [descriptor_from(item) for item in doc.get("manifests") or []]

    def find(self, name: str) -> Descriptor | None:
        """The last entry tagged ``name``."""
        found = [desc for desc in self.entries() if ref_name(desc) == name]
        return found[-1] if found else None

    def _write_index(self, entries: list[Descriptor]) -> None:
        doc = {
            "schemaVersion": 2,
            "mediaType": media.OCI_INDEX,
            "manifests": [descriptor_to(desc) for desc in entries],
        }
        with atomic_output(self.root / "index.json") as out:
            out.write(json.dumps(doc, indent=2).encode() + b"\n")

    def update(self, change: Callable[[list[Descriptor]], list[Descriptor]]) -> None:
        """Rewrite ``index.json`` as ``change`` of its entries, under the lock."""
        self.ensure()
        with self.lock():
            self._write_index(change(self.entries()))

    def tag(self, name: str, desc: Descriptor) -> Descriptor:
        """Point ``name`` at ``desc`` (replacing what it named); returns the entry written."""
        others = tuple(kv for kv in desc.annotations if kv[0] != media.REF_NAME)
        entry = Descriptor(desc.media_type, desc.digest, desc.size, (*others, (media.REF_NAME, name)), desc.platform)
        self.update(lambda entries: [e for e in entries if ref_name(e) != name] + [entry])
        return entry

    def untag(self, name: str) -> bool:
        removed: list[bool] = []

        def change(entries: list[Descriptor]) -> list[Descriptor]:
            kept = [e for e in entries if ref_name(e) != name]
            removed.append(len(kept) != len(entries))
            return kept

        if not (self.root / "index.json").exists():
            return False
        self.update(change)
        return removed[0]
