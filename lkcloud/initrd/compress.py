"""Compressors as sinks (gzip on every core, zstd, xz, none), and the reverse for checks: the
cpio bytes of an initrd made of compressed archives and zero padding, as the kernel reads it."""

from __future__ import annotations

import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from lkcloud.errors import BuildError, UsageError
from lkcloud.initrd.cpio import CPIO_MAGIC, Sink, archive_end
from lkcloud.initrd.pgzip import ParallelGzip

COMPRESSIONS = ("gzip", "zstd", "xz", "none")
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_NOT_ZERO = re.compile(rb"[^\x00]")


class _Stream:
    """A compressor object with compress()/flush() as a Sink."""

    def __init__(self, out: BinaryIO, compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> None:
        self._out, self._compress, self._flush = out, compress, flush

    def write(self, data: bytes) -> None:
        self._out.write(self._compress(data))

    def close(self) -> None:
        self._out.write(self._flush())


def _gzip(out: BinaryIO) -> Sink:
    return ParallelGzip(out)


def _xz(out: BinaryIO) -> Sink:
    """xz with CRC32, the only check the kernel's decoder knows."""
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=6)
    return _Stream(out, comp.compress, comp.flush)


def _zstd(out: BinaryIO) -> Sink:
    import zstandard

    comp = zstandard.ZstdCompressor(level=3, threads=2).compressobj()
    return _Stream(out, comp.compress, comp.flush)


def _none(out: BinaryIO) -> Sink:
    return _Stream(out, lambda data: data, lambda: b"")


COMPRESSORS: dict[str, Callable[[BinaryIO], Sink]] = {
    "gzip": _gzip, "zstd": _zstd, "xz": _xz, "none": _none,
}


def check_compression(name: str) -> None:
    if name not in COMPRESSORS:
        raise UsageError(f"unknown initrd compression {name!r}", hint="choose one of: " + ", ".join(COMPRESSIONS))


def compressor(name: str, out: BinaryIO) -> Sink:
    check_compression(name)
    return COMPRESSORS[name](out)


def _decompress(data: bytes, pos: int) -> tuple[bytes, int]:
    """One compressed archive at ``pos``: its bytes, and where the next thing starts."""
    if data.startswith(GZIP_MAGIC, pos):
        gz = zlib.decompressobj(31)
        out = gz.decompress(data[pos:])
        return out, len(data) - len(gz.unused_data)
    if data.startswith(XZ_MAGIC, pos):
        xz = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        out = xz.decompress(data[pos:])
        return out, len(data) - len(xz.unused_data)
    if data.startswith(ZSTD_MAGIC, pos):
        import zstandard

        zst = zstandard.ZstdDecompressor().decompressobj()
        out = zst.decompress(data[pos:])
        return out, len(data) - len(zst.unused_data)
    raise BuildError(f"no archive at byte {pos} of the initrd")


def archives(data: bytes) -> Iterator[bytes]:
    """The cpio bytes of each archive of an initrd, in order, zero padding between them skipped."""
    pos = 0
    while found := _NOT_ZERO.search(data, pos):
        pos = found.start()
        if data.startswith(CPIO_MAGIC, pos):
            end = archive_end(data, pos)
            yield data[pos:end]
            pos = end
        else:
            out, pos = _decompress(data, pos)
            yield out
