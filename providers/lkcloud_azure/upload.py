"""A fixed VHD into a page blob: non-zero ranges only, in parallel, resumable.

The file is scanned once for data (``SEEK_DATA`` skips holes; 64 KiB granules of zeros are
dropped) into ranges of at most 4 MiB that never cross a 4 MiB page boundary. A new page blob
reads as zeros, so only the ranges with data are sent, each by one Put Page carrying its MD5.

Resuming: the blob's metadata records the file's sha256 digest. A rerun that finds a blob of
the same length and digest asks it which ranges it holds (Get Page Ranges) and sends only the
rest; a blob marked complete is reused as is; any other blob is started over.

Every request goes through the provider's one call layer; the pages share one time budget that
each confirmed page restarts, and fewer pages are kept in flight while the service throttles.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError

from lkcloud.progress import NULL, Reporter, Task
from lkcloud.provider.calls import Activity, Calls
from lkcloud.provider.concurrency import AdaptiveLimit
from lkcloud_azure.calls import find
from lkcloud_azure.vhd import FixedVhd

PAGE = 4 << 20  # Put Page's largest write
GRANULE = 64 << 10  # zero runs shorter than this are sent rather than split around
DIGEST_KEY = "lkcloud_digest"
COMPLETE_KEY = "lkcloud_complete"
_ZERO_PAGE = bytes(PAGE)


@dataclass(frozen=True)
class Span:
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class UploadResult:
    url: str
    container: str
    blob: str
    size: int
    ranges: int  # ranges with data in the image
    sent: int  # ranges this run sent
    bytes_sent: int
    skipped: int = 0  # ranges an earlier, interrupted run had stored
    reused: bool = False  # a complete blob of the same content was there
    lowest_concurrency: int = 0  # the fewest pages in flight throttling brought the upload down to

    @property
    def bytes_skipped(self) -> int:
        """Zero pages, and pages an earlier run stored."""
        return self.size - self.bytes_sent


def _extents(fd: int, size: int) -> Iterator[Span]:
    """The file's data extents (the whole file where SEEK_DATA is not supported)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == 6:  # ENXIO: no data after offset
                return
            yield Span(offset, size - offset)
            return
        yield Span(start, min(end, size) - start)
        offset = end


def _pages(fd: int, size: int) -> list[int]:
    """Indices of the 4 MiB pages that hold any allocated data."""
    pages: set[int] = set()
    for extent in _extents(fd, size):
        pages.update(range(extent.start // PAGE, (extent.end - 1) // PAGE + 1))
    return sorted(pages)


def _page_spans(page: bytes, base: int) -> Iterator[Span]:
    """The non-zero granule runs of one page, as spans of the file."""
    if page == _ZERO_PAGE[: len(page)]:
        return
    view = memoryview(page)
    zero = _ZERO_PAGE[:GRANULE]
    run: int | None = None
    for offset in range(0, len(page), GRANULE):
        piece = view[offset : offset + GRANULE]
        if piece != zero[: len(piece)]:
            run = offset if run is None else run
        elif run is not None:
            yield Span(base + run, offset - run)
            run = None
    if run is not None:
        yield Span(base + run, len(page) - run)


def plan(image: FixedVhd) -> list[Span]:
    """Every range of the VHD that holds data, at most one page each, in file order."""
    spans: list[Span] = []
    with image.path.open("rb") as fh:
        fd = fh.fileno()
        for index in _pages(fd, image.size):
            spans.extend(_page_spans(os.pread(fd, PAGE, index * PAGE), index * PAGE))
    return spans


def _covered(span: Span, stored: list[Span], starts: list[int]) -> bool:
    at = bisect.bisect_right(starts, span.start) - 1
    return at >= 0 and stored[at].end >= span.end


def _merge(ranges: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(ranges, key=lambda r: r.start):
        if merged and merged[-1].end >= span.start:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end) - last.start)
        else:
            merged.append(span)
    return merged


class PageBlobUploader:
    """Uploads fixed VHDs into one container of one blob service."""

    def __init__(self, service: Any, container: str, calls: Calls, concurrency: int = 16) -> None:
        self.service = service
        self.container = container
        self.calls = calls
        self.concurrency = max(1, concurrency)

    def _ensure_container(self) -> None:
        client = self.service.get_container_client(self.container)

        def create() -> None:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()

        self.calls.call(f"creating container {self.container}", create)

    def stored(self, blob: Any) -> list[Span]:
        """The ranges a page blob holds (Get Page Ranges lists written ranges only), merged."""
        pages = self.calls.call(f"listing the pages of {blob.blob_name}", lambda: list(blob.list_page_ranges()))
        return _merge([Span(p.start, p.end + 1 - p.start) for p in pages if not getattr(p, "cleared", False)])

    def _start(self, blob: Any, image: FixedVhd, digest: str) -> tuple[bool, list[Span]]:
        """(complete, stored ranges) of a blob of this content; a fresh blob otherwise."""
        props = find(self.calls, f"reading {blob.blob_name}", blob.get_blob_properties)
        if props is not None and props.size == image.size and props.metadata.get(DIGEST_KEY) == digest:
            if props.metadata.get(COMPLETE_KEY) == "true":
                return True, []
            return False, self.stored(blob)
        self.calls.call(f"creating page blob {blob.blob_name}", blob.create_page_blob, image.size,
                        metadata={DIGEST_KEY: digest})
        return False, []

    def upload(self, image: FixedVhd, blob_name: str, digest: str, reporter: Reporter = NULL) -> UploadResult:
        """Put ``image`` into ``blob_name`` (resuming a blob of the same ``digest``)."""
        self._ensure_container()
        digest = digest.removeprefix("sha256:")
        blob = self.service.get_blob_client(self.container, blob_name)
        spans = plan(image)
        complete, stored = self._start(blob, image, digest)
        if complete:
            return UploadResult(blob.url, self.container, blob_name, image.size, len(spans), 0, 0, reused=True)
        starts = [s.start for s in stored]
        todo = [s for s in spans if not _covered(s, stored, starts)]
        task = reporter.task(f"uploading {blob_name}", sum(s.length for s in todo))
        limit = AdaptiveLimit(self.concurrency)
        try:
            self._send(blob, image, todo, task, limit)
        finally:
            task.done()
        self.calls.call(f"finishing {blob_name}", blob.set_blob_metadata, {DIGEST_KEY: digest, COMPLETE_KEY: "true"})
        return UploadResult(blob.url, self.container, blob_name, image.size, len(spans), len(todo),
                            sum(s.length for s in todo), skipped=len(spans) - len(todo),
                            lowest_concurrency=limit.lowest)

    def _send(self, blob: Any, image: FixedVhd, todo: list[Span], task: Task, limit: AdaptiveLimit) -> None:
        failed = threading.Event()
        activity = Activity(self.calls.budget.seconds)  # restarted by every confirmed page

        def put(fd: int, span: Span) -> None:
            if failed.is_set():
                return
            data = os.pread(fd, span.length, span.start)
            try:
                with limit.slot():
                    self.calls.call(f"writing {blob.blob_name} at {span.start}", blob.upload_page, data,
                                    offset=span.start, length=span.length, validate_content=True,
                                    activity=activity, on_throttle=limit.throttled)
            except BaseException:
                failed.set()
                raise
            limit.succeeded()
            activity.advanced()
            task.advance(span.length)

        with image.path.open("rb") as fh, ThreadPoolExecutor(self.concurrency, "azure-pages") as pool:
            futures = [pool.submit(put, fh.fileno(), span) for span in todo]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                failed.set()
                for future in futures:
                    future.cancel()
                raise
