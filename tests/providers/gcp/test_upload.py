"""Resumable streaming uploads against gcp-storage-emulator, with faults injected by a proxy."""

from __future__ import annotations

import base64
import dataclasses
import random
from pathlib import Path

import google_crc32c
import pytest

from lkcloud.errors import LkcloudError
from lkcloud.progress import Task
from lkcloud_gcp import archive
from lkcloud_gcp.clients import Api
from lkcloud_gcp.upload import ReplayableStream, SessionStore, Uploader, UploadRequest
from tests.providers.gcp.conftest import make_api
from tests.servers.faultproxy import FaultProxy, Faults
from tests.servers.gcs_emulator import storage_client

pytestmark = pytest.mark.emulator
QUANTUM = 256 << 10
SEED = 1  # a fault sequence with transient failures all through the upload, never three in a row


def _pieces(seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(1, 300_000)) for _ in range(12)]


def _uploader(api: Api, tmp_path: Path) -> Uploader:
    return Uploader(api.clients.session, api.clients.endpoints.storage, SessionStore(tmp_path / "sessions"),
                    QUANTUM, calls=api.calls, budget=api.config.budgets.upload)


def test_replayable_stream_seeks_back_by_regenerating() -> None:
    pieces = _pieces()
    whole = b"".join(pieces)
    stream = ReplayableStream(lambda: iter(pieces))
    assert stream.read(1000) == whole[:1000]
    stream.seek(500_000)
    assert stream.read(10) == whole[500_000:500_010]
    stream.seek(3)
    assert stream.read(5) == whole[3:8]
    while stream.read(1 << 20):
        pass
    assert stream.at_end() and stream.position == len(whole)
    expected = base64.b64encode(google_crc32c.Checksum(whole).digest()).decode()
    assert stream.crc32c() == expected


@pytest.mark.slow
def test_upload_survives_resets_and_server_errors(api: Api, gcs_url: str, bucket: str, raw_disk: Path,
                                                  tmp_path: Path) -> None:
    faults = Faults(rate=0.35, seed=3, match=r"^PUT .*upload_id")
    with FaultProxy(gcs_url, faults) as proxy:
        via_proxy = Api.of(api.config, type(api.clients)(api.clients.credentials,
                                                         dataclasses.replace(api.clients.endpoints, storage=proxy.url)))
        done = _uploader(via_proxy, tmp_path).upload(UploadRequest(bucket, "faulty.tar.gz", "k-faulty"),
                                                     lambda: archive.gce_archive(raw_disk))
    assert sum(proxy.stats[k] for k in ("reset", "reset-after", "500", "503", "throttle")) > 0
    stored = storage_client(gcs_url).bucket(bucket).blob("faulty.tar.gz").download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk))
    assert done.size == len(stored)


def test_killed_upload_resumes_from_the_committed_offset(gcp_env: dict[str, str], gcs_url: str, bucket: str,
                                                         raw_disk: Path, tmp_path: Path) -> None:
    request = UploadRequest(bucket, "resumed.tar.gz", "k-resumed")
    with FaultProxy(gcs_url, Faults(match=r"^PUT .*upload_id", fail_after=4)) as proxy:
        api = make_api({**gcp_env, "STORAGE_EMULATOR_HOST": proxy.url}, bucket=bucket)
        with pytest.raises(LkcloudError):
            _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk))
        assert (tmp_path / "sessions" / "k-resumed.json").stat().st_mode & 0o777 == 0o600
        proxy.faults = Faults()  # the network is back; the saved session URL points through the proxy
        done = _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk))
    assert done.resumed_from == 4 * QUANTUM
    assert not (tmp_path / "sessions" / "k-resumed.json").exists()
    stored = storage_client(gcs_url).bucket(bucket).blob("resumed.tar.gz").download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk))


class _Interrupting:
    """A reporter that is interrupted (^C) once ``after`` bytes are reported."""

    def __init__(self, after: int) -> None:
        self.after, self.seen = after, 0

    def step(self, message: str) -> None:
        pass

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        return self

    def advance(self, amount: int = 1) -> None:
        self.seen += amount
        if self.seen >= self.after:
            raise KeyboardInterrupt

    def done(self) -> None:
        pass


def test_interrupted_upload_resumes(api: Api, gcs_url: str, bucket: str, raw_disk: Path, tmp_path: Path) -> None:
    request = UploadRequest(bucket, "interrupted.tar.gz", "k-int")
    with pytest.raises(KeyboardInterrupt):
        _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk), _Interrupting(3 * QUANTUM))
    done = _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk))
    assert done.resumed_from == 3 * QUANTUM
    stored = storage_client(gcs_url).bucket(bucket).blob("interrupted.tar.gz").download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk))


def test_expired_session_starts_over(api: Api, gcs_url: str, bucket: str, tmp_path: Path) -> None:
    request = UploadRequest(bucket, "fresh.bin", "k-fresh")
    sessions = SessionStore(tmp_path / "sessions")
    sessions.save(request, f"{gcs_url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id=gone")
    pieces = _pieces()
    done = _uploader(api, tmp_path).upload(request, lambda: iter(pieces))
    assert done.resumed_from == 0
    assert storage_client(gcs_url).bucket(bucket).blob("fresh.bin").download_as_bytes() == b"".join(pieces)


def test_interrupted_after_the_last_chunk(api: Api, gcs_url: str, bucket: str, raw_disk: Path,
                                          tmp_path: Path) -> None:
    """Interrupted once the server has the whole object: the rerun still ends with that object
    (real GCS answers the status query with the object; the emulator forgets the session)."""
    request = UploadRequest(bucket, "complete.tar.gz", "k-complete")
    expected = b"".join(archive.gce_archive(raw_disk))
    with pytest.raises(KeyboardInterrupt):
        _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk), _Interrupting(len(expected)))
    done = _uploader(api, tmp_path).upload(request, lambda: archive.gce_archive(raw_disk))
    assert done.size == len(expected)
    assert storage_client(gcs_url).bucket(bucket).blob("complete.tar.gz").download_as_bytes() == expected


def test_the_budget_counts_time_without_progress(api: Api, gcs_url: str, bucket: str, raw_disk: Path,
                                                 tmp_path: Path) -> None:
    """Transient failures all through a long upload, each followed by progress: the upload's
    budget (here 5.5 requests' worth of time) restarts with every committed chunk, so a push
    longer than the budget still finishes."""
    faults = Faults(rate=0.15, kinds=("503",), seed=SEED, match=r"^PUT .*upload_id")
    with FaultProxy(gcs_url, faults) as proxy:
        via_proxy = Api.of(api.config, type(api.clients)(api.clients.credentials,
                                                         dataclasses.replace(api.clients.endpoints, storage=proxy.url)))
        uploader = Uploader(via_proxy.clients.session, proxy.url, SessionStore(tmp_path / "sessions"), QUANTUM,
                            calls=api.calls, budget=550.0, clock=lambda: 100.0 * proxy.stats["matched"])
        done = uploader.upload(UploadRequest(bucket, "long.tar.gz", "k-long"), lambda: archive.gce_archive(raw_disk))
    assert proxy.stats["503"] >= 3 and proxy.stats["matched"] * 100.0 > 3 * 550.0
    stored = storage_client(gcs_url).bucket(bucket).blob("long.tar.gz").download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk)) and done.size == len(stored)
