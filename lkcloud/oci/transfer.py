"""Reading what a registry sends, within bounds: capped bodies, and downloads that must keep moving.

A registry (or whatever answers in its place) decides how much it sends and how fast. Documents
(manifests, indexes, token and error bodies) are read up to a cap; a blob download is watched,
and one that moves less than ``minimum`` bytes in ``window`` seconds is cut off, where a socket
timeout alone lets a server that sends one byte a minute hold the download for ever.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from types import TracebackType

import requests

from lkcloud.oci.limits import human

DOCUMENT_CHUNK = 4 << 10


class StalledError(Exception):
    """A body stopped moving."""


class TooLargeError(Exception):
    """A body was larger than its cap."""


def read_capped(resp: requests.Response, limit: int, window: float | None = None) -> bytes:
    """The body of a streamed response, at most ``limit`` bytes (TooLargeError past it), cut off
    when it stalls for ``window`` seconds (a requests error, with ``stalled`` on the watchdog)."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"{human(int(declared))} (the limit is {human(limit)})")
    parts, total = [], 0
    with Watchdog(resp, window or 0.0, 1) if window else contextlib.nullcontext() as watchdog:
        for chunk in _iterate(resp, DOCUMENT_CHUNK, watchdog):
            total += len(chunk)
            if total > limit:
                raise TooLargeError(f"over {human(limit)}")
            parts.append(chunk)
    return b"".join(parts)


def _iterate(resp: requests.Response, size: int, watchdog: Watchdog | None) -> Iterator[bytes]:
    try:
        for chunk in resp.iter_content(size):
            if watchdog is not None:
                watchdog.advance(len(chunk))
            yield chunk
    except requests.RequestException as exc:
        if watchdog is not None and watchdog.stalled:
            raise StalledError(f"less than {human(watchdog.minimum)} in {watchdog.window:g} s") from exc
        raise


class Watchdog:
    """Cuts off ``resp`` when fewer than ``minimum`` bytes were counted (``advance``) in a
    ``window``: its socket is shut down, which wakes a read blocked on it."""

    def __init__(self, resp: requests.Response, window: float, minimum: int) -> None:
        self._resp, self.window, self.minimum = resp, window, minimum
        self._count = 0
        self._stop = threading.Event()
        self.stalled = False
        self._thread = threading.Thread(target=self._watch, name="download-watchdog", daemon=True)

    def advance(self, n: int) -> None:
        self._count += n

    def _watch(self) -> None:
        seen = 0
        while not self._stop.wait(self.window):
            if self._count - seen < self.minimum:
                self.stalled = True
                self._cut()
                return
            seen = self._count

    def _cut(self) -> None:
        connection = getattr(self._resp.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._resp.close()

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


def chunks(resp: requests.Response, size: int, watchdog: Watchdog) -> Iterator[bytes]:
    """The body of ``resp`` in chunks of up to ``size`` bytes, counted by ``watchdog``;
    StalledError when the watchdog cut it off."""
    return _iterate(resp, size, watchdog)
