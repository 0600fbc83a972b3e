"""Reading blobs with their digest checked: an interrupted read is not a damaged blob."""

from __future__ import annotations

import io

import pytest

from lkcloud.errors import DigestMismatchError
from lkcloud.oci import media


class _InterruptedOnce(io.BytesIO):
    """Raises KeyboardInterrupt once, after it has handed over bytes (as a signal may)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.calls = 0

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return n


def test_an_interrupted_read_does_not_look_damaged() -> None:
    data = b"x" * (3 * media.CHUNK)
    stream = media.verified(_InterruptedOnce(data), media.sha256(data), len(data))
    with pytest.raises(KeyboardInterrupt), stream:  # closing must not turn ^C into a digest mismatch
        while stream.read(media.CHUNK):
            pass


def test_closing_early_still_checks() -> None:
    data = b"y" * 1000
    with pytest.raises(DigestMismatchError), media.verified(io.BytesIO(data), media.sha256(b"z"), 1000) as stream:
        stream.read(10)
