"""OCI and Docker media types, digests, and digest-verified, decompressing streams."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from typing import BinaryIO

from lkcloud.errors import DigestMismatchError, UsageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# The exact order matters to registry 2.8 (REFERENCE §5.1).
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
REFERENCE_TYPE = "vnd.docker.reference.type"

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Layer media type by detected compression, for layers whose bytes lkcloud stores itself.
LAYER_TYPE_BY_COMPRESSION = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "none": OCI_LAYER}

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
CHUNK = 1 << 20


def check_digest(digest: str) -> str:
    """``digest`` if it is a well-formed sha256 digest; raises UsageError otherwise."""
    if not _DIGEST.fullmatch(digest):
        raise UsageError(f"not a sha256 digest: {digest!r}")
    return digest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compression_of(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none``, from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class VerifyingReader(io.RawIOBase):
    """Reads ``source`` while hashing; at its end, checks the digest (and size, when known).

    Closing before the end reads the rest, so that a consumer that stops early (a tar reader
    at the end-of-archive marker) still gets the check. A read cut short between reading and
    hashing (^C, SIGTERM) leaves nothing to check: closing then only closes, so an interrupt never
    makes an intact blob look damaged (and get deleted).
    """

    def __init__(self, source: BinaryIO, digest: str, size: int | None = None, *, what: str = "blob") -> None:
        self._source = source
        self._digest = check_digest(digest)
        self._size = size
        self._what = what
        self._hash = hashlib.sha256()
        self._count = 0
        self._checked = False
        self._torn = False  # a read cut short (^C, SIGTERM) between reading and hashing: nothing to check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._checked or self._torn:
            return 0
        self._torn = True
        n = self._source.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._hash.update(buffer[:n])
            self._count += n
        self._torn = False
        if not n:
            self._check()
        return int(n or 0)

    def _check(self) -> None:
        self._checked = True
        actual = "sha256:" + self._hash.hexdigest()
        if self._size is not None and self._count != self._size:
            raise DigestMismatchError(
                f"{self._what} {self._digest} has {self._count} bytes, expected {self._size}",
                hint="the cached copy is damaged: remove it with 'lkcloud cache rm' and pull again",
            )
        if actual != self._digest:
            raise DigestMismatchError(
                f"{self._what} {self._digest} does not match its content (got {actual})",
                hint="the cached copy is damaged: remove it with 'lkcloud cache rm' and pull again",
            )

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._checked and not self._torn:
                view = memoryview(bytearray(CHUNK))
                while self.readinto(view):
                    pass
        finally:
            self._source.close()
            super().close()


def verified(source: BinaryIO, digest: str, size: int | None = None, *, what: str = "blob") -> io.BufferedReader:
    """``source`` wrapped so that reading it to the end (or closing it) checks ``digest``."""
    return io.BufferedReader(VerifyingReader(source, digest, size, what=what), buffer_size=CHUNK)


class _Decompressed(io.RawIOBase):
    """A decompressing view that closes (and so verifies) its compressed source."""

    def __init__(self, inner: BinaryIO, source: BinaryIO) -> None:
        self._inner = inner
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._inner.close()
        finally:
            self._source.close()
            super().close()


def decompressed(stream: io.BufferedReader) -> BinaryIO:
    """An uncompressed view of ``stream`` (gzip, zstd or plain, detected by magic)."""
    kind = compression_of(stream.peek(4)[:4])
    if kind == "none":
        return stream
    inner: BinaryIO
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    else:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
    return io.BufferedReader(_Decompressed(inner, stream), buffer_size=CHUNK)
