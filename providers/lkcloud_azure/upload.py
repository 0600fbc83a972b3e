"""A fixed VHD into a page blob: non-zero ranges only, in parallel, resumable.

The file is scanned once for data (``SEEK_DATA`` skips holes; 64 KiB granules of zeros are
dropped) into ranges of at most 4 MiB that never cross a 4 MiB page boundary. A new page blob
reads as zeros, so only the ranges with data are sent, each by one Put Page carrying its MD5.

Resuming: the blob's metadata records the file's sha256 digest. A rerun that finds a blob of
the same length and digest asks it which ranges it holds (Get Page Ranges) and sends only the
rest; a blob marked complete is reused as is; any other blob is started over. Given a
:class:`~lkcloud_azure.incremental.Lineage`, the upload builds on the family's previous blob
instead (:mod:`lkcloud_azure.incremental`) and leaves a block manifest for the next one.

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError

from lkcloud.progress import NULL, Reporter, Task
from lkcloud.provider.calls import Activity, Calls
from lkcloud.provider.concurrency import AdaptiveLimit
from lkcloud_azure.calls import find
from lkcloud_azure.vhd import FixedVhd

if TYPE_CHECKING:
    from lkcloud_azure.incremental import Lineage

PAGE = 4 << 20  # Put Page's largest write
GRANULE = 64 << 10  # zero runs shorter than this are sent rather than split around
DIGEST_KEY = "lkcloud_digest"
COMPLETE_KEY = "lkcloud_complete"
FAMILY_KEY = "lkcloud_family"
ARCH_KEY = "lkcloud_arch"  # amd64 | arm64: a release builds on one of its own architecture
PARENT_KEY = "lkcloud_parent"  # an incremental blob: the blob it was copied from (same container)
PARENT_ETAG_KEY = "lkcloud_parent_etag"  # ... and that blob's ETag when it was copied
_ZERO_PAGE = bytes(PAGE)
_ZERO_GRANULE = bytes(GRANULE)


@dataclass(frozen=True)
class Span:
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Op:
    """One request of an upload: write the file's bytes of ``span``, or clear them (Clear Pages)."""

    span: Span
    clear: bool = False


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
    parent: str | None = None  # an incremental upload: the URL of the blob it was copied from
    how: dict[str, Any] = field(default_factory=dict)  # full or incremental, and why (the push's details)

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


def _zero(data: bytes) -> bool:
    """All zeros (bytes compared with bytes: memcmp speed; a memoryview comparison is 100 times slower)."""
    return data == (_ZERO_PAGE if len(data) == PAGE else _ZERO_GRANULE if len(data) == GRANULE else bytes(len(data)))


def data_spans(page: bytes, base: int) -> Iterator[Span]:
    """The non-zero granule runs of one page, as spans of the file."""
    if _zero(page):
        return
    run: int | None = None
    for offset in range(0, len(page), GRANULE):
        if not _zero(page[offset : offset + GRANULE]):
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
            spans.extend(data_spans(os.pread(fd, PAGE, index * PAGE), index * PAGE))
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

    def __init__(self, service: Any, container: str, calls: Calls, concurrency: int = 16,
                 wait_seconds: float = 3600.0) -> None:
        self.service = service
        self.container = container
        self.calls = calls
        self.concurrency = max(1, concurrency)
        self.wait_seconds = wait_seconds  # a server-side copy may go this long without progress

    def client(self, blob_name: str) -> Any:
        return self.service.get_blob_client(self.container, blob_name)

    def key(self, blob_name: str) -> str:
        """The blob's name wherever the service is reached from: ``account/container/blob``."""
        return f"{self.service.account_name}/{self.container}/{blob_name}"

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

    def settled(self, blob: Any) -> Any:
        """The blob's properties (None when missing) once no copy into it is pending: Copy Blob
        "can finish asynchronously" and the destination is polled for ``x-ms-copy-status``
        (https://learn.microsoft.com/rest/api/storageservices/copy-blob)."""
        props = find(self.calls, f"reading {blob.blob_name}", blob.get_blob_properties)
        if props is None or getattr(props.copy, "status", None) != "pending":
            return props
        return self.calls.wait(f"the copy into {blob.blob_name}", blob.get_blob_properties,
                               lambda p: getattr(p.copy, "status", None) != "pending", timeout=self.wait_seconds,
                               progress=lambda p: p.copy.progress,
                               hint="Azure copies on a best-effort basis; run the push again to go on waiting")

    def create(self, blob: Any, image: FixedVhd, metadata: dict[str, str]) -> None:
        self.calls.call(f"creating page blob {blob.blob_name}", blob.create_page_blob, image.size, metadata=metadata)

    def upload(self, image: FixedVhd, blob_name: str, digest: str, reporter: Reporter = NULL,
               lineage: Lineage | None = None) -> UploadResult:
        """Put ``image`` into ``blob_name`` (resuming a blob of the same ``digest``); with a
        ``lineage``, on top of the family's previous blob where there is one."""
        self._ensure_container()
        digest = digest.removeprefix("sha256:")
        blob = self.client(blob_name)
        props = self.settled(blob)
        if props is not None and getattr(props.copy, "status", None) in ("failed", "aborted"):
            props = None  # a copy that did not finish holds nothing to build on
        ours = props is not None and props.size == image.size and props.metadata.get(DIGEST_KEY) == digest
        if lineage is not None:
            from lkcloud_azure import incremental

            job = incremental.Job(self, blob, image, digest, lineage, reporter)
            return incremental.upload(job, props if ours else None)
        if ours and props.metadata.get(COMPLETE_KEY) == "true":
            return UploadResult(blob.url, self.container, blob_name, image.size, 0, 0, 0, reused=True,
                                how={"mode": "reused"})
        if not ours:
            self.create(blob, image, {DIGEST_KEY: digest})
        result = self.full(blob, image, resume=ours, reporter=reporter)
        self.finish(blob, {DIGEST_KEY: digest})
        return result

    def full(self, blob: Any, image: FixedVhd, *, resume: bool, reporter: Reporter = NULL) -> UploadResult:
        """Every range with data that the (new, or resumed) blob does not hold yet."""
        spans = plan(image)
        stored = self.stored(blob) if resume else []
        starts = [s.start for s in stored]
        todo = [s for s in spans if not _covered(s, stored, starts)]
        lowest = self.send(blob, image, [Op(s) for s in todo], reporter)
        sent = sum(s.length for s in todo)
        return UploadResult(blob.url, self.container, blob.blob_name, image.size, len(spans), len(todo), sent,
                            skipped=len(spans) - len(todo), lowest_concurrency=lowest,
                            how={"mode": "full", "resumed": resume})

    def finish(self, blob: Any, metadata: dict[str, str]) -> str:
        """Mark the blob complete; returns its ETag from then on."""
        done = self.calls.call(f"finishing {blob.blob_name}", blob.set_blob_metadata,
                               {**metadata, COMPLETE_KEY: "true"})
        return str(done.get("etag", ""))

    def send(self, blob: Any, image: FixedVhd, ops: list[Op], reporter: Reporter = NULL) -> int:
        """Every op, in parallel; returns the fewest requests throttling left in flight."""
        task = reporter.task(f"uploading {blob.blob_name}", sum(op.span.length for op in ops if not op.clear))
        limit = AdaptiveLimit(self.concurrency)
        try:
            self._send(blob, image, ops, task, limit)
        finally:
            task.done()
        return limit.lowest

    def _request(self, blob: Any, fd: int, op: Op, activity: Activity, limit: AdaptiveLimit) -> None:
        span = op.span
        if op.clear:
            self.calls.call(f"clearing {blob.blob_name} at {span.start}", blob.clear_page, offset=span.start,
                            length=span.length, activity=activity, on_throttle=limit.throttled)
            return
        data = os.pread(fd, span.length, span.start)
        self.calls.call(f"writing {blob.blob_name} at {span.start}", blob.upload_page, data, offset=span.start,
                        length=span.length, validate_content=True, activity=activity, on_throttle=limit.throttled)

    def _send(self, blob: Any, image: FixedVhd, ops: list[Op], task: Task, limit: AdaptiveLimit) -> None:
        failed = threading.Event()
        activity = Activity(self.calls.budget.seconds)  # restarted by every confirmed page

        def put(fd: int, op: Op) -> None:
            if failed.is_set():
                return
            try:
                with limit.slot():
                    self._request(blob, fd, op, activity, limit)
            except BaseException:
                failed.set()
                raise
            limit.succeeded()
            activity.advanced()
            task.advance(0 if op.clear else op.span.length)

        with image.path.open("rb") as fh, ThreadPoolExecutor(self.concurrency, "azure-pages") as pool:
            futures = [pool.submit(put, fh.fileno(), op) for op in ops]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                failed.set()
                for future in futures:
                    future.cancel()
                raise
