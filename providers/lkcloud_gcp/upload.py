"""Streaming, resumable uploads into Cloud Storage (the JSON API's resumable protocol).

The archive is produced while it is sent: no temporary file. The session URL is kept in a small
state file keyed by the content, once the first chunk is committed; a rerun asks the server how
much it holds and continues from there, regenerating the (deterministic) stream up to that
offset. Transient failures inside one run do the same. Sizes stay unknown (``/*``) until the
last chunk.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import google_crc32c
import requests

from lkcloud.errors import CredentialsError, ProviderError, UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.progress import NULL, Reporter, Task
from lkcloud.provider.calls import Activity, Calls, Transient

log = logging.getLogger(__name__)

QUANTUM = 256 << 10  # chunk sizes must be multiples of this
PUBLIC_ROOT = "https://storage.googleapis.com"
HTTP_TIMEOUT = (15.0, 300.0)
_READ = 1 << 20
_Checksum: Any = google_crc32c.Checksum  # untyped in the library
RESUME_HINT = "run the push again: it resumes where this one stopped"


class TransientUploadError(ProviderError):
    """The server answered 429 or 5xx: ask it what it holds, and continue."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


class SessionExpiredError(ProviderError):
    """The resumable session is gone (404/410): start a new one."""


def interrupted(error: BaseException) -> Transient | None:
    """Upload failures worth another attempt, beyond the API's transient errors."""
    if isinstance(error, TransientUploadError | SessionExpiredError):
        return Transient("upload interrupted", throttled=getattr(error, "throttled", False))
    return None


class ReplayableStream:
    """A forward stream over a deterministic generator that can go back to any offset by
    regenerating, and knows the CRC32C of everything it produced."""

    def __init__(self, factory: Callable[[], Iterator[bytes]]) -> None:
        self._factory = factory
        self._restart()

    def _restart(self) -> None:
        self._pieces = iter(self._factory())
        self._buffer = bytearray()
        self._crc: Any = _Checksum()
        self._exhausted = False
        self.position = 0

    def _fill(self, wanted: int) -> None:
        while len(self._buffer) < wanted and not self._exhausted:
            piece = next(self._pieces, None)
            if piece is None:
                self._exhausted = True
                break
            self._crc.update(piece)
            self._buffer += piece

    def read(self, size: int) -> bytes:
        self._fill(size)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.position += len(out)
        return out

    def at_end(self) -> bool:
        self._fill(1)
        return not self._buffer

    def seek(self, offset: int) -> None:
        if offset < self.position:
            self._restart()
        while self.position < offset:
            if not self.read(min(_READ, offset - self.position)):
                raise ProviderError(f"the upload source ends at {self.position}, before offset {offset}")

    def crc32c(self) -> str:
        """Base64 CRC32C (as Cloud Storage reports it) of the whole stream; call at the end."""
        return base64.b64encode(self._crc.digest()).decode()


def file_source(path: Path) -> Callable[[], Iterator[bytes]]:
    def pieces() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while chunk := fh.read(_READ):
                yield chunk

    return pieces


@dataclass(frozen=True)
class UploadRequest:
    bucket: str
    object_name: str
    key: str  # names the content: same key, same bytes (used to resume)
    content_type: str = "application/gzip"
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Uploaded:
    bucket: str
    object_name: str
    size: int
    crc32c: str
    resumed_from: int = 0

    @property
    def source_url(self) -> str:
        """The URL images.insert takes as rawDisk.source."""
        return f"{PUBLIC_ROOT}/{self.bucket}/{quote(self.object_name)}"


class SessionStore:
    """Resumable session URLs by content key (mode 0600: a session URL is a capability)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, request: UploadRequest) -> str | None:
        try:
            data = json.loads(self._path(request.key).read_text())
        except (OSError, ValueError):
            return None
        same = data.get("bucket") == request.bucket and data.get("object") == request.object_name
        return str(data["url"]) if same and data.get("url") else None

    def save(self, request: UploadRequest, url: str) -> None:
        record = {"bucket": request.bucket, "object": request.object_name, "url": url}
        with atomic_output(self._path(request.key), mode=0o600) as fh:
            fh.write(json.dumps(record).encode())

    def drop(self, request: UploadRequest) -> None:
        self._path(request.key).unlink(missing_ok=True)


def _committed(response: requests.Response) -> int:
    """The committed byte count from a 308's Range header (none: nothing committed)."""
    value = response.headers.get("Range", "")
    return int(value.rsplit("-", 1)[1]) + 1 if value.startswith("bytes=") else 0


def _check(response: requests.Response, what: str) -> None:
    code = response.status_code
    if code in (404, 410):
        raise SessionExpiredError(f"{what}: upload session expired (HTTP {code})")
    if code == 429 or code >= 500:
        raise TransientUploadError(f"{what}: HTTP {code}", throttled=code == 429)
    if code in (401, 403):
        raise CredentialsError(f"{what}: HTTP {code}", hint="the credentials need storage.objects.create")
    if code not in (200, 201, 308):
        raise ProviderError(f"{what}: HTTP {code}: {response.text[:200]}")


@dataclass
class _Progress:
    """Where one upload stands: the session, what the server holds, what we started from."""

    url: str
    committed: int = 0
    resumed_from: int = 0
    saved: bool = False
    finished: dict[str, Any] | None = None  # the object, when a resumed session was already complete
    activity: Activity | None = None  # the upload's budget: committed bytes restart it


class Uploader:
    """Resumable uploads to one Cloud Storage endpoint through an authorized session."""

    def __init__(self, session: Any, root: str, sessions: SessionStore, chunk_size: int, *, calls: Calls,
                 budget: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        if chunk_size % QUANTUM:
            raise UsageError(f"upload chunk size {chunk_size} is not a multiple of {QUANTUM}")
        self.session = session
        self.root = root.rstrip("/")
        self.sessions = sessions
        self.chunk_size = chunk_size
        self.calls = calls
        self.budget = budget  # seconds the upload may keep failing
        self.clock = clock

    def _initiate(self, request: UploadRequest) -> str:
        url = f"{self.root}/upload/storage/v1/b/{quote(request.bucket, safe='')}/o"
        body = {"name": request.object_name, "contentType": request.content_type,
                "metadata": dict(request.metadata)}
        response = self.session.post(url, params={"uploadType": "resumable", "name": request.object_name},
                                     json=body, headers={"X-Upload-Content-Type": request.content_type},
                                     timeout=HTTP_TIMEOUT)
        if response.status_code == 404:
            raise UsageError(f"bucket {request.bucket!r} does not exist",
                             hint=f"create it (gcloud storage buckets create gs://{request.bucket}) or pass --bucket")
        _check(response, f"starting the upload to gs://{request.bucket}")
        location = response.headers.get("Location")
        if not location:
            raise ProviderError("the storage API started an upload but returned no session URL")
        return str(location)

    def _query(self, progress: _Progress) -> dict[str, Any] | None:
        """Ask the server how much it holds; the object's resource if the upload is complete."""
        response = self.session.put(progress.url, headers={"Content-Range": "bytes */*"}, timeout=HTTP_TIMEOUT)
        _check(response, "querying the upload")
        if response.status_code in (200, 201):
            return dict(response.json())
        progress.committed = _committed(response)
        return None

    def _send(self, stream: ReplayableStream, progress: _Progress, request: UploadRequest,
              task: Task) -> dict[str, Any]:
        stream.seek(progress.committed)
        while True:
            start = stream.position
            chunk = stream.read(self.chunk_size)
            total = str(stream.position) if stream.at_end() else "*"
            span = f"{start}-{stream.position - 1}" if chunk else "*"
            response = self.session.put(progress.url, data=chunk, headers={"Content-Range": f"bytes {span}/{total}"},
                                        timeout=HTTP_TIMEOUT)
            _check(response, f"uploading gs://{request.bucket}/{request.object_name}")
            if response.status_code in (200, 201):
                task.advance(stream.position - progress.committed)
                return dict(response.json())
            committed = _committed(response)
            task.advance(committed - progress.committed)
            if committed > progress.committed and progress.activity is not None:
                progress.activity.advanced()  # progress: the budget counts from here
            progress.committed = committed
            if not progress.saved and committed:
                self.sessions.save(request, progress.url)
                progress.saved = True
            stream.seek(committed)

    def _attempt(self, stream: ReplayableStream, progress: _Progress, request: UploadRequest,
                 task: Task, query: bool) -> dict[str, Any]:
        try:
            if query and progress.committed == 0:
                progress.url = self._initiate(request)  # nothing to keep: a fresh session is simpler
            elif query and (done := self._query(progress)) is not None:
                return done
            return self._send(stream, progress, request, task)
        except SessionExpiredError:
            self.sessions.drop(request)
            progress.committed, progress.saved = 0, False
            raise

    def _resume_or_start(self, request: UploadRequest) -> _Progress:
        url = self.sessions.load(request)
        if url is not None:
            progress = _Progress(url, saved=True)
            try:
                progress.finished = self._query(progress)
            except SessionExpiredError:
                self.sessions.drop(request)
            else:
                done = progress.finished
                progress.resumed_from = int(done.get("size", 0)) if done else progress.committed
                log.debug("resuming the upload of %s at %d", request.object_name, progress.committed)
                return progress
        return _Progress(self._initiate(request))

    def upload(self, request: UploadRequest, source: Callable[[], Iterator[bytes]],
               reporter: Reporter = NULL) -> Uploaded:
        """Stream ``source`` into ``gs://bucket/object``, resuming an earlier session for the
        same key; verify the stored CRC32C against what was sent."""
        stream = ReplayableStream(source)
        progress = self._resume_or_start(request)
        task = reporter.task(f"uploading gs://{request.bucket}/{request.object_name}", None)
        attempts = itertools.count()
        progress.activity = Activity(self.budget, self.clock)

        def attempt() -> dict[str, Any]:
            return self._attempt(stream, progress, request, task, query=next(attempts) > 0)

        try:
            resource = progress.finished or self.calls.call(
                f"uploading gs://{request.bucket}/{request.object_name}", attempt,
                activity=progress.activity, also=interrupted)
        except CredentialsError:
            raise
        except ProviderError as exc:
            raise ProviderError(exc.message, hint=RESUME_HINT) from exc
        task.done()
        self.sessions.drop(request)
        return self._verify(request, resource, stream, progress)

    def _verify(self, request: UploadRequest, resource: dict[str, Any], stream: ReplayableStream,
                progress: _Progress) -> Uploaded:
        while stream.read(_READ):  # a session found complete was not read at all
            pass
        size, crc = stream.position, stream.crc32c()
        if int(resource.get("size", -1)) != size or resource.get("crc32c", crc) != crc:
            raise ProviderError(f"gs://{request.bucket}/{request.object_name}: stored object does not match what "
                                f"was sent (size {resource.get('size')} vs {size})", hint="push again")
        return Uploaded(request.bucket, request.object_name, size, crc, progress.resumed_from)

    def delete(self, bucket: str, object_name: str) -> None:
        url = f"{self.root}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(object_name, safe='')}"
        response = self.session.delete(url, timeout=HTTP_TIMEOUT)
        if response.status_code not in (200, 204, 404):
            raise ProviderError(f"deleting gs://{bucket}/{object_name}: HTTP {response.status_code}")

