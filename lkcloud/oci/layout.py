"""An OCI image layout on disk (``oci-layout``, ``index.json``, ``blobs/sha256/``), as LinuxKit keeps it.

Blobs are written through a temporary name in their directory, checked against their digest,
then renamed; ``index.json`` is rewritten the same way under a file lock (``.lock``), so several
processes can share one cache. A process that is storing an image holds a *lease* on its blobs
(``.leases/HOST-PID-N``, one digest a line) from before the first blob lands until the image is
tagged, and pruning (under the lock) spares leased blobs: a concurrent ``cache rm`` cannot delete
the blobs of an image about to be tagged. Leases of dead processes, or older than a day, are void.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import filelock

from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.fsutil import atomic_output
from lkcloud.leftovers import STALE_AFTER, sweep_cache
from lkcloud.oci import media
from lkcloud.oci.api import Descriptor, Platform
from lkcloud.oci.limits import DOCUMENT_SIZE, human

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
LOCK_TIMEOUT = 300.0
LEASES = ".leases"


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


def _alive(lease: Path, now: float) -> bool:
    """Whether a lease file is younger than a day and, when it is this host's, its process runs."""
    try:
        if now - lease.stat().st_mtime > STALE_AFTER:
            return False
    except FileNotFoundError:
        return False
    host, pid, _token = [*lease.name.rsplit("-", 2), "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class Layout:
    """The layout at ``root``; created on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: filelock.BaseFileLock | None = None
        self._lease: Path | None = None
        self._swept = False

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

    def read_blob(self, digest: str, *, what: str = "blob", limit: int = DOCUMENT_SIZE) -> bytes:
        """A small blob's bytes (a manifest, an index, a config: at most ``limit``), checked against its digest."""
        try:
            with self.blob_path(digest).open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"{what} {digest} is not in the cache at {self.root}") from exc
        if len(data) > limit:
            raise RegistryError(f"cached {what} {digest} is over {human(limit)}: not a manifest or config")
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
        self.lease_add([digest])
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
                    if size is not None and count > size:  # stop at the declared size, not at the sender's
                        raise DigestMismatchError(f"blob {digest} is larger than the {size} bytes declared for it",
                                                  hint="the source served wrong data; nothing was cached")
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
            self.lease_add([actual])
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
        if not self._swept:  # the first write of a run removes what killed runs left
            self._swept = True
            sweep_cache(self.root)
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

    # --- leases ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lease(self) -> Iterator[None]:
        """Hold a lease for the blobs written (and added with :meth:`lease_add`) until the end."""
        if self._lease is not None:  # already leasing: the outer lease covers this too
            yield
            return
        directory = self.root / LEASES
        directory.mkdir(parents=True, exist_ok=True)
        self._lease = directory / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lease.touch()
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._lease.unlink()
            self._lease = None

    def lease_add(self, digests: Iterable[str]) -> None:
        """Add ``digests`` to the current lease (nothing without one), under the lock so that a
        prune sees either the lease or not yet the blob."""
        if self._lease is None:
            return
        lines = "".join(f"{digest}\n" for digest in digests)
        with self.lock(), self._lease.open("a") as out:
            out.write(lines)

    def leased(self) -> set[str]:
        """The digests live leases hold (call under the lock); void leases are removed."""
        directory = self.root / LEASES
        if not directory.is_dir():
            return set()
        now, found = time.time(), set[str]()
        for lease in directory.iterdir():
            if not _alive(lease, now):
                with contextlib.suppress(FileNotFoundError):
                    lease.unlink()
                continue
            with contextlib.suppress(FileNotFoundError):
                found.update(line.strip() for line in lease.read_text().splitlines() if line.strip())
        return found

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
