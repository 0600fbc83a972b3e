"""A proxy in front of Azurite that copies page blobs the way Azure documents Copy Blob.

Azurite 3.35.0's Copy Blob answers ``success`` at once, and its copy of a page blob shares the
source's page-range list: a later write to the copy shows in the source too. Azure's Copy Blob
makes an independent blob, "can finish asynchronously and is performed on a best-effort basis":
the answer (202) may say ``x-ms-copy-status: pending``, and the client polls the destination's
properties (``x-ms-copy-status`` pending | success | aborted | failed, ``x-ms-copy-progress``
bytes copied/total, ``x-ms-copy-status-description`` for a failure) until it is done; metadata
given with the request replaces the source's; ``x-ms-source-if-match`` makes the copy
conditional on the source's ETag, 412 otherwise
(https://learn.microsoft.com/rest/api/storageservices/copy-blob,
https://learn.microsoft.com/rest/api/storageservices/get-blob-properties). While a copy is
pending, a write to the destination (Put Page, Clear Pages, Set Blob Properties or Metadata,
another copy) fails with 409 ``PendingCopyOperation`` "There is currently a pending copy
operation." (https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes).

This proxy forwards everything else to Azurite. It makes each Copy Blob of a page blob itself,
as an independent blob (created, then the source's pages written into it through Azurite's own
API), reports it ``pending`` for the next ``polls`` property reads of the destination (with
growing progress) while refusing writes to it, then reports ``outcome``: ``success``, or
``failed`` (the destination then holds none of the source's pages). The outcome stays on the
blob until it is created anew (Put Blob or another copy). ``outcome="refused"`` answers the copy
itself with 403 ``CannotVerifyCopySource``, as Azure does when it may not read the source. Reads
of the content during a pending copy are forwarded as they are (lkcloud never reads them).
"""

from __future__ import annotations

import http.client
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from tests.servers import faultproxy
from tests.servers.azurite import connection_string

WRITES = frozenset({"page", "properties", "metadata", "copy", "incrementalcopy"})
FAILED_DESCRIPTION = "500 InternalError Copy failed (azurite_copy proxy)."
VERSION = "2025-11-05"
PAGE = 4 << 20


def _error(status: int, code: str, message: str) -> faultproxy.Canned:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return faultproxy.Canned(status, (("Content-Type", "application/xml"), ("x-ms-error-code", code)), body.encode())


PENDING = _error(409, "PendingCopyOperation", "There is currently a pending copy operation.")
SOURCE_CHANGED = _error(412, "SourceConditionNotMet", "The source condition specified using HTTP conditional "
                                                      "header(s) is not met.")
NO_SOURCE = _error(404, "CannotVerifyCopySource", "The specified blob does not exist.")
REFUSED = _error(403, "CannotVerifyCopySource", "This request is not authorized to perform this operation.")


@dataclass
class _Copy:
    copy_id: str
    source: str
    polls_left: int
    outcome: str
    polls: int = 0


class _Response:
    """An upstream response with some headers replaced."""

    def __init__(self, response: http.client.HTTPResponse, replace: dict[str, str]) -> None:
        self._response, self._replace = response, {k.lower(): v for k, v in replace.items()}
        self.status, self.reason = response.status, response.reason

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._replace.get(name.lower(), self._response.getheader(name, default))

    def getheaders(self) -> list[tuple[str, str]]:
        kept = [(k, v) for k, v in self._response.getheaders() if k.lower() not in self._replace]
        return kept + list(self._replace.items())

    def read(self, size: int = -1) -> bytes:
        return self._response.read(size)


class _Handler(faultproxy._Handler):
    server: Any

    def _request(self) -> tuple[str, str | None]:
        parts = urlsplit(self.path)
        return unquote(parts.path), parse_qs(parts.query).get("comp", [None])[0]

    def _dispatch(self) -> None:
        path, comp = self._request()
        proxy: AsyncCopyProxy = self.server.proxy
        copying = self.command == "PUT" and comp is None and "x-ms-copy-source" in self.headers
        if self.command == "PUT" and (comp in WRITES or copying) and proxy.pending(path):
            proxy.count("refused")
            self._drain()
            self._answer(PENDING)
            return
        if copying:
            self._drain()
            self._answer(proxy.copy(path, dict(self.headers.items())))
            return
        if self.command == "PUT" and comp is None:
            proxy.overwritten(path)  # Put Blob: an old copy's outcome no longer shows
        super()._dispatch()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _relay(self, response: http.client.HTTPResponse) -> None:
        path, comp = self._request()
        replace: dict[str, str] = {}
        if self.command in ("HEAD", "GET") and comp is None and response.status in (200, 206):
            replace = self.server.proxy.reported(path, int(response.getheader("Content-Length") or 0),
                                                 poll=self.command == "HEAD")
        super()._relay(_Response(response, replace) if replace else response)  # type: ignore[arg-type]


class AsyncCopyProxy(faultproxy.FaultProxy):
    """Azurite with Azure's copies: ``polls`` pending property reads, then ``outcome``."""

    def __init__(self, upstream: str, polls: int = 3, outcome: str = "success") -> None:
        super().__init__(upstream)
        self._server.RequestHandlerClass = _Handler  # the fault proxy's forwarding, our copies
        self.polls, self.outcome = polls, outcome
        self.service = BlobServiceClient.from_connection_string(connection_string(upstream), retry_total=0)
        self._copies: dict[str, _Copy] = {}
        self._copy_lock = threading.Lock()
        self.copy_stats: Counter[str] = Counter()

    def count(self, key: str, amount: int = 1) -> None:
        super().count(key, amount)
        with self._copy_lock:
            self.copy_stats[key] += amount

    def _client(self, path: str) -> Any:
        _account, container, blob = path.lstrip("/").split("/", 2)
        return self.service.get_blob_client(container, blob)

    def copy(self, path: str, headers: dict[str, str]) -> faultproxy.Canned:
        """Copy Blob into ``path``: an independent page blob, reported pending for a while."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if self.outcome == "refused":
            return REFUSED
        source_path = unquote(urlsplit(lowered["x-ms-copy-source"]).path)
        source, target = self._client(source_path), self._client(path)
        try:
            props = source.get_blob_properties()
        except ResourceNotFoundError:
            return NO_SOURCE
        wanted = lowered.get("x-ms-source-if-match")
        if wanted and wanted.strip('"') != str(props.etag).strip('"'):
            return SOURCE_CHANGED
        metadata = {k[len("x-ms-meta-"):]: v for k, v in headers.items() if k.lower().startswith("x-ms-meta-")}
        created = target.create_page_blob(props.size, metadata=metadata or dict(props.metadata))
        if self.outcome == "success":
            for span in source.list_page_ranges(etag=props.etag, match_condition=MatchConditions.IfNotModified):
                for start in range(span.start, span.end + 1, PAGE):
                    length = min(PAGE, span.end + 1 - start)
                    data = source.download_blob(offset=start, length=length).readall()
                    target.upload_page(data, offset=start, length=length)
        copy_id = str(uuid.uuid4())
        with self._copy_lock:
            self._copies[path] = _Copy(copy_id, lowered["x-ms-copy-source"], self.polls, self.outcome)
            self.copy_stats["copies"] += 1
        return faultproxy.Canned(202, (("ETag", str(created["etag"])), ("Last-Modified", formatdate(usegmt=True)),
                                       ("x-ms-copy-id", copy_id), ("x-ms-copy-status", "pending"),
                                       ("x-ms-request-id", str(uuid.uuid4())), ("x-ms-version", VERSION),
                                       ("Date", formatdate(usegmt=True))))

    def overwritten(self, path: str) -> None:
        with self._copy_lock:
            self._copies.pop(path, None)

    def pending(self, path: str) -> bool:
        with self._copy_lock:
            found = self._copies.get(path)
            return found is not None and found.polls_left > 0

    def reported(self, path: str, length: int, *, poll: bool) -> dict[str, str]:
        """The copy headers a read of ``path`` shows now (a HEAD is one poll)."""
        with self._copy_lock:
            found = self._copies.get(path)
            if found is None:
                return {}
            shown = {"x-ms-copy-id": found.copy_id, "x-ms-copy-source": found.source}
            if found.polls_left > 0:
                if poll:
                    found.polls_left -= 1
                    found.polls += 1
                    self.copy_stats["pending_polls"] += 1
                done = length * found.polls // (found.polls + found.polls_left + 1)
                return {**shown, "x-ms-copy-status": "pending", "x-ms-copy-progress": f"{done}/{length}"}
            if found.outcome == "success":
                return {**shown, "x-ms-copy-status": "success", "x-ms-copy-progress": f"{length}/{length}"}
            return {**shown, "x-ms-copy-status": found.outcome, "x-ms-copy-progress": f"0/{length}",
                    "x-ms-copy-status-description": FAILED_DESCRIPTION}
