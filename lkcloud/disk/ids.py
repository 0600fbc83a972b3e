"""Identifiers derived from content: two builds of the same inputs get the same GUIDs and serials."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

# A fixed namespace for every uuid5 lkcloud derives (uuid5 of the DNS namespace and "lkcloud.formats").
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "lkcloud.formats")

MIB = 1 << 20
GIB = 1 << 30
SECTOR = 512
VHD_EPOCH = 946684800  # 2000-01-01 00:00:00 UTC


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def file_digest(path: Path) -> str:
    """SHA-256 of a file; remembered per (path, inode, size, mtime) so one build hashes each input once."""
    st = path.stat()
    return _digest(str(path), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, inode: int, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class ContentId:
    """A digest of everything that goes into an image; every derived identifier comes from it."""

    digest: str

    @classmethod
    def of(cls, *parts: str) -> ContentId:
        return cls(hashlib.sha256("\0".join(parts).encode()).hexdigest())

    def guid(self, role: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{self.digest}/{role}")

    def u32(self, role: str) -> int:
        """A 32-bit number (FAT volume serial, MBR disk signature, VMDK CID); never zero."""
        value = int.from_bytes(hashlib.sha256(f"{self.digest}/{role}".encode()).digest()[:4], "big")
        return value or 1
