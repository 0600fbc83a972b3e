"""Block manifests: what an uploaded image holds, block by block, kept locally so that the next
push of the same family sends only the blocks that changed.

A manifest names the cloud object it describes (``key``: a snapshot id, a blob URL...), the
content digest of the image it holds, its family, and the SHA-256 of each non-zero block (a
block absent from the manifest reads as zeros). The store writes each manifest atomically, reads
it back verified (a trailing SHA-256 over the whole file, every field checked against the others)
and treats anything else as unknown; it keeps the newest few per family, so its disk use is
bounded.

File layout: ``LKBM1\\n``, one JSON header line (key, digest, family, size, block_size, count),
``count`` records of an 8-byte little-endian block index and a 32-byte SHA-256 in index order,
then the SHA-256 of everything before it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.fsutil import atomic_output

log = logging.getLogger(__name__)

MAGIC = b"LKBM1\n"
_RECORD = struct.Struct("<Q32s")
_SUM = 32
_MAX_HEADER = 4096
MAX_BLOCKS = 1 << 22  # 4 Mi blocks (2 TiB of data at 512 KiB): a larger file is not read
SUFFIX = ".manifest"


@dataclass(frozen=True)
class BlockManifest:
    key: str  # the cloud object whose content this is (a snapshot id, a blob URL...)
    digest: str  # the image's content digest (sha256:...)
    family: str
    size: int  # image bytes
    block_size: int
    blocks: Mapping[int, bytes] = field(default_factory=dict)  # non-zero block index -> raw SHA-256

    def encode(self) -> bytes:
        header = {"key": self.key, "digest": self.digest, "family": self.family, "size": self.size,
                  "block_size": self.block_size, "count": len(self.blocks)}
        body = MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n"
        body += b"".join(_RECORD.pack(index, self.blocks[index]) for index in sorted(self.blocks))
        return body + hashlib.sha256(body).digest()


def _header(raw: bytes) -> tuple[dict[str, Any], int] | None:
    """The header and where the records start, or None when the file does not start like a manifest."""
    if not raw.startswith(MAGIC):
        return None
    end = raw.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        return None
    try:
        header = json.loads(raw[len(MAGIC):end])
    except ValueError:
        return None
    return (header, end + 1) if isinstance(header, dict) else None


def decode(raw: bytes) -> BlockManifest | None:
    """The manifest ``raw`` holds, or None when it is not a whole, consistent manifest."""
    found = _header(raw)
    if found is None or hashlib.sha256(raw[:-_SUM]).digest() != raw[-_SUM:]:
        return None
    header, start = found
    try:
        key, digest, family = str(header["key"]), str(header["digest"]), str(header["family"])
        size, block_size, count = int(header["size"]), int(header["block_size"]), int(header["count"])
    except (KeyError, TypeError, ValueError):
        return None
    if size < 0 or block_size <= 0 or not 0 <= count <= MAX_BLOCKS or len(raw) - _SUM - start != count * _RECORD.size:
        return None
    limit = -(-size // block_size)
    blocks: dict[int, bytes] = {}
    last = -1
    for index, value in _RECORD.iter_unpack(raw[start:len(raw) - _SUM]):
        if index <= last or index >= limit:
            return None
        blocks[index] = value
        last = index
    return BlockManifest(key, digest, family, size, block_size, blocks)


class ManifestStore:
    """Manifests in ``directory``, one file per key; the newest ``keep`` of each family are kept."""

    def __init__(self, directory: Path, keep: int = 8) -> None:
        self.directory = directory
        self.keep = keep

    def path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:40] + SUFFIX)

    def load(self, key: str) -> BlockManifest | None:
        """The verified manifest of ``key``; None when there is none, or when the file is not a
        whole manifest of ``key`` (it is then removed)."""
        path = self.path(key)
        try:
            if path.stat().st_size > len(MAGIC) + _MAX_HEADER + MAX_BLOCKS * _RECORD.size + _SUM:
                raise ValueError("too large")
            manifest = decode(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.debug("manifest %s unreadable: %s", path, exc)
            manifest = None
        if manifest is None or manifest.key != key:
            log.debug("manifest %s is not a whole manifest of %s: removed", path, key)
            self.remove(key)
            return None
        return manifest

    def save(self, manifest: BlockManifest) -> None:
        """Write ``manifest`` atomically, then drop the family's manifests beyond the newest ``keep``."""
        with atomic_output(self.path(manifest.key), mode=0o600) as fh:
            fh.write(manifest.encode())
        self._prune(manifest.family)

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def _prune(self, family: str) -> None:
        same: list[tuple[int, Path]] = []
        for path in self.directory.glob("*" + SUFFIX):
            try:
                with path.open("rb") as fh:
                    found = _header(fh.read(len(MAGIC) + _MAX_HEADER))
                stamp = path.stat().st_mtime_ns
            except OSError:
                continue
            if found is not None and found[0].get("family") == family:
                same.append((stamp, path))
        for _, path in sorted(same, reverse=True)[self.keep:]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
