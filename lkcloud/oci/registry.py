"""A distribution-v2 registry client on ``requests``: exact bytes, digests checked, auth by challenge.

Registries on ``localhost``/``127.0.0.1``/``::1`` and those named in ``registry.insecure``
(``--insecure-registry``, ``LKCLOUD_REGISTRY_INSECURE``) are reached over plain HTTP, all others
over HTTPS; ``registry.insecure`` and ``registry.mirrors`` are never taken from a project's
``lkcloud.toml``. Requests start anonymous; a 401 challenge (Bearer or Basic) brings in credentials
(lkcloud.oci.auth) for that registry only, and a token realm of an HTTPS registry must be HTTPS.
Transient failures (timeouts, resets, 429, 5xx, a stalled download) are retried with backoff under
a deadline; a refused connection, 401/403 and 404 are reported at once. What a registry sends is
read within bounds (lkcloud.oci.transfer): documents up to 4 MiB, blobs up to their declared size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
import tenacity

from lkcloud import settings
from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.oci import auth, media, transfer
from lkcloud.oci.auth import Credentials
from lkcloud.oci.limits import DOCUMENT_SIZE
from lkcloud.oci.manifest import media_type_of

INSECURE = settings.declare(
    "registry.insecure", [], "registries (host or host:port) reached over plain HTTP (--insecure-registry)",
    not_from_project="pass --insecure-registry, or set LKCLOUD_REGISTRY_INSECURE or ~/.config/lkcloud/config.toml",
)
MIRRORS = settings.declare(
    "registry.mirrors", [], "docker.io mirror URLs, tried in order before Docker Hub",
    not_from_project="set LKCLOUD_REGISTRY_MIRRORS or ~/.config/lkcloud/config.toml",
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CONNECT_TIMEOUT = 10.0
ERROR_SIZE = 64 << 10  # of an error body, the part read for its message
STALL_ERRORS = 10.0  # seconds an error body may take to move
DOWNLOAD_CHUNK = 256 << 10  # also the progress a download must make per stall_window

__all__ = [
    "INSECURE", "MIRRORS", "Credentials", "Fetched", "RegistryClient", "RegistryOptions", "StatusError",
    "TransientError",
]


class TransientError(RegistryError):
    """A failure worth retrying: timeout, reset connection, 429, 5xx."""


class StatusError(RegistryError):
    """The registry answered with an unexpected HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries. ``credentials`` maps a host to explicit credentials; with
    ``use_env`` the environment and the Docker keychain are consulted too."""

    insecure: frozenset[str] = frozenset()
    mirrors: tuple[str, ...] = ()
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    use_env: bool = True
    attempts: int = 4
    deadline: float = 300.0
    read_timeout: float = 60.0
    stall_window: float = 60.0  # a download that moves less than one chunk in this many seconds is cut off

    @classmethod
    def from_settings(cls, resolved: settings.Settings | None = None, *, insecure: list[str] | None = None,
                      mirrors: list[str] | None = None) -> RegistryOptions:
        resolved = resolved or settings.Settings()
        hosts = resolved.get(INSECURE, insecure or None) or []
        urls = resolved.get(MIRRORS, mirrors or None) or []
        assert isinstance(hosts, list) and isinstance(urls, list)
        return cls(insecure=frozenset(str(h) for h in hosts), mirrors=tuple(str(u).rstrip("/") for u in urls))

    def credentials_for(self, host: str) -> Credentials | None:
        return self.credentials.get(host) or (auth.lookup(host) if self.use_env else None)


@dataclass(frozen=True)
class Fetched:
    """A manifest or index as the registry served it: the exact bytes."""

    data: bytes
    media_type: str
    digest: str


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item):
            return True
        if "Name or service not known" in str(item) or "nodename nor servname" in str(item):
            return True
        pending.extend([item.__cause__, item.__context__, *item.args, getattr(item, "reason", None)])
    return False


def _error_detail(resp: requests.Response) -> str:
    try:
        errors = json.loads(transfer.read_capped(resp, ERROR_SIZE, STALL_ERRORS)).get("errors") or []
        first = errors[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError, IndexError, TypeError, transfer.TooLargeError, transfer.StalledError,
            requests.RequestException):
        return resp.reason or ""


class RegistryClient:
    """One registry host (``registry-1.docker.io``, ``127.0.0.1:5000``), or a mirror at ``base_url``."""

    def __init__(self, host: str, options: RegistryOptions | None = None, *, base_url: str | None = None) -> None:
        self.host = host
        self.options = options or RegistryOptions()
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        plain = hostname in LOCAL_HOSTS or host in self.options.insecure or hostname in self.options.insecure
        self.base_url = (base_url or f"{'http' if plain else 'https'}://{host}").rstrip("/")
        self.session = requests.Session()
        self._auth: dict[str, str] = {}  # scope -> Authorization header value
        self._tokens: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}

    # --- plumbing ------------------------------------------------------------------------------
    def retrying(self) -> tenacity.Retrying:
        """The one retry policy: transient errors only, exponential backoff with jitter, deadline."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=tenacity.stop_after_attempt(self.options.attempts) | tenacity.stop_after_delay(self.options.deadline),
            wait=tenacity.wait_exponential_jitter(multiplier=0.5, max=10.0),
            reraise=True,
        )

    def _url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def _send(self, method: str, url: str, scope: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if scope in self._auth:
            headers["Authorization"] = self._auth[scope]
        try:  # streamed: a body is read only where it is wanted, and within bounds
            return self.session.request(
                method, url, headers=headers, timeout=(CONNECT_TIMEOUT, self.options.read_timeout), stream=True,
                **kwargs,
            )
        except requests.ConnectionError as exc:
            if _refused(exc):
                raise RegistryError(
                    f"cannot reach registry {self.host}: connection refused",
                    hint="check that the registry is running and the reference names the right host",
                ) from exc
            raise TransientError(f"registry {self.host}: connection failed: {exc}") from exc
        except requests.Timeout as exc:
            raise TransientError(f"registry {self.host} timed out") from exc

    def request(
        self, method: str, path: str, *, scope: str, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> requests.Response:
        """Send one request, answering a 401 challenge once; raises for unexpected statuses."""
        url = self._url(path)
        resp = self._send(method, url, scope, **kwargs)
        if resp.status_code == 401:
            challenge = auth.parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            resp.close()
            self._auth[scope] = self._answer(challenge, scope)
            resp = self._send(method, url, scope, **kwargs)
            if resp.status_code == 401:
                resp.close()
                raise RegistryError(
                    f"registry {self.host} refused access (401 Unauthorized) to {scope}",
                    hint="check the credentials (LKCLOUD_REGISTRY_USERNAME/PASSWORD or ~/.docker/config.json)",
                )
        if resp.status_code in ok:
            return resp
        resp.close()
        self._raise_for(resp, scope)
        raise AssertionError("unreachable")

    def _raise_for(self, resp: requests.Response, scope: str) -> None:
        status, detail = resp.status_code, _error_detail(resp)
        if status == 429 or status >= 500:
            raise TransientError(f"registry {self.host} answered {status}: {detail}")
        if status == 403:
            raise RegistryError(f"registry {self.host} denied access (403 Forbidden) to {scope}: {detail}")
        raise StatusError(f"registry {self.host} answered {status} for {resp.request.method} "
                          f"{resp.request.path_url}: {detail}", status)

    def _answer(self, challenge: auth.Challenge | None, scope: str) -> str:
        creds = self.options.credentials_for(self.host)
        if challenge is not None and challenge.scheme == "bearer":
            return "Bearer " + self._token(challenge, scope, creds)
        if creds is None:
            raise RegistryError(
                f"registry {self.host} requires authentication (401 Unauthorized)",
                hint="set LKCLOUD_REGISTRY_USERNAME and LKCLOUD_REGISTRY_PASSWORD, or log in with docker",
            )
        return creds.basic()

    def _token(self, challenge: auth.Challenge, scope: str, creds: Credentials | None) -> str:
        realm, service = challenge.get("realm") or "", challenge.get("service") or ""
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"registry {self.host} sent a Bearer challenge without a usable realm")
        if self.base_url.startswith("https://") and not realm.startswith("https://"):
            raise RegistryError(f"registry {self.host} asked for a token from {realm}, over plain HTTP: refused",
                                hint="an HTTPS registry's token service must be HTTPS too")
        scopes = tuple(dict.fromkeys([*(challenge.get("scope") or "").split(), scope]).keys() - {""})
        scopes = tuple(sorted(scopes))
        key = (realm, service, scopes)
        cached = self._tokens.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        params = [("service", service)] if service else []
        params += [("scope", s) for s in scopes]
        try:
            resp = self.session.get(realm, params=params, timeout=(CONNECT_TIMEOUT, self.options.read_timeout),
                                    auth=(creds.username or "", creds.password or "") if creds else None, stream=True)
            with resp:
                body = json.loads(transfer.read_capped(resp, DOCUMENT_SIZE, self.options.stall_window)
                                  ) if resp.status_code == 200 else {}
        except (requests.RequestException, transfer.StalledError) as exc:
            raise TransientError(f"token server {realm} of registry {self.host} failed: {exc}") from exc
        except (ValueError, transfer.TooLargeError) as exc:
            raise RegistryError(f"registry {self.host}: the token server {realm} sent no usable token: {exc}") from exc
        if resp.status_code in (401, 403):
            raise RegistryError(
                f"registry {self.host}: the token server refused the credentials ({resp.status_code})",
                hint="check LKCLOUD_REGISTRY_USERNAME/PASSWORD or ~/.docker/config.json",
            )
        if resp.status_code != 200:
            raise TransientError(f"token server {realm} of registry {self.host} answered {resp.status_code}")
        token = str(body.get("token") or body.get("access_token") or "")
        if not token:
            raise RegistryError(f"registry {self.host}: the token server returned no token")
        lifetime = float(body.get("expires_in") or 60)
        self._tokens[key] = (token, time.monotonic() + max(lifetime - 10.0, 1.0))
        return token

    @staticmethod
    def scope(repository: str, push: bool = False) -> str:
        return f"repository:{repository}:{'pull,push' if push else 'pull'}"

    # --- reading -------------------------------------------------------------------------------
    def get_manifest(self, repository: str, target: str) -> Fetched:
        """The manifest or index ``target`` (tag or digest) names, checked against its digest."""
        for attempt in self.retrying():
            with attempt:
                return self._get_manifest(repository, target)
        raise AssertionError("unreachable")

    def _get_manifest(self, repository: str, target: str) -> Fetched:
        where = f"{self.host}/{repository}{'@' if ':' in target else ':'}{target}"
        try:
            resp = self.request("GET", f"/v2/{repository}/manifests/{target}", scope=self.scope(repository),
                                headers={"Accept": media.ACCEPT})
        except StatusError as exc:
            if exc.status == 404:
                raise ImageNotFoundError(f"image {where} not found (404)",
                                         hint="check the name and tag; is it pushed to this registry?") from exc
            raise
        try:
            with resp:
                data = transfer.read_capped(resp, DOCUMENT_SIZE, self.options.stall_window)
        except transfer.StalledError as exc:
            raise TransientError(f"registry {self.host}: reading the manifest of {where} stalled ({exc})") from exc
        except transfer.TooLargeError as exc:
            raise RegistryError(f"manifest of {where} is too large: {exc}",
                                hint="a manifest is a small JSON document; this registry is not serving one") from exc
        except requests.RequestException as exc:
            raise TransientError(f"registry {self.host}: reading the manifest of {where} failed: {exc}") from exc
        digest = media.sha256(data)
        expected = target if target.startswith("sha256:") else resp.headers.get("Docker-Content-Digest", "")
        if expected.startswith("sha256:") and expected != digest:
            raise DigestMismatchError(f"manifest of {where} does not match its digest {expected} (got {digest})",
                                      hint="the registry served corrupt data; nothing was cached")
        return Fetched(data, media_type_of(data, resp.headers.get("Content-Type"), where), digest)

    @contextmanager
    def blob_chunks(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        """The blob's bytes as a stream of chunks (not yet verified: the consumer checks)."""
        resp = self.request("GET", f"/v2/{repository}/blobs/{digest}", scope=self.scope(repository))
        watchdog = transfer.Watchdog(resp, self.options.stall_window, DOWNLOAD_CHUNK)

        def chunks() -> Iterator[bytes]:
            try:
                yield from transfer.chunks(resp, DOWNLOAD_CHUNK, watchdog)
            except transfer.StalledError as exc:
                raise TransientError(f"registry {self.host}: download of {digest} stalled ({exc})") from exc
            except requests.RequestException as exc:
                raise TransientError(f"registry {self.host}: download of {digest} broke off: {exc}") from exc

        try:
            with watchdog:
                yield chunks()
        finally:
            resp.close()

    def blob_exists(self, repository: str, digest: str, *, push: bool = False) -> bool:
        resp = self.request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=self.scope(repository, push),
                            ok=(200, 404))
        resp.close()
        return resp.status_code == 200

    # --- writing -------------------------------------------------------------------------------
    def push_blob(self, repository: str, digest: str, data: bytes | Path) -> bool:
        """Upload a blob unless the registry has it; the exact bytes go up. True if uploaded."""
        for attempt in self.retrying():
            with attempt:
                return self._push_blob(repository, digest, data)
        raise AssertionError("unreachable")

    def _push_blob(self, repository: str, digest: str, data: bytes | Path) -> bool:
        scope = self.scope(repository, push=True)
        if self.blob_exists(repository, digest, push=True):
            return False
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope, ok=(202,))
        location = urljoin(self.base_url + "/", start.headers.get("Location", ""))
        start.close()
        target = f"{location}{'&' if '?' in location else '?'}digest={digest}"
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(data, Path):
            with data.open("rb") as body:
                self.request("PUT", target, scope=scope, ok=(201,), headers=headers, data=body).close()
        else:
            self.request("PUT", target, scope=scope, ok=(201,), headers=headers, data=data).close()
        return True

    def push_manifest(self, repository: str, target: str, data: bytes, media_type: str) -> str:
        """PUT a manifest or index under ``target`` (tag or digest) with its own media type."""
        digest = media.sha256(data)
        for attempt in self.retrying():
            with attempt:
                resp = self.request("PUT", f"/v2/{repository}/manifests/{target}", scope=self.scope(repository, True),
                                    ok=(201,), headers={"Content-Type": media_type}, data=data)
                served = resp.headers.get("Docker-Content-Digest", digest)
                resp.close()
                if served != digest:
                    raise DigestMismatchError(f"registry {self.host} stored the manifest as {served}, not {digest}")
        return digest
