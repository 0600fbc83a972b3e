"""Fixtures for the GCP provider: gcp-storage-emulator, the fake Compute API, and an Api bound
to both through the same environment variables Google's tools honour."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lkcloud.settings import Settings
from lkcloud_gcp.clients import Api, Flags, connect
from tests.conftest import ROOT
from tests.servers.fake_compute import FakeCompute, fake_compute
from tests.servers.gcs_emulator import gcs_emulator, storage_client

PROJECT = "lk-test"
_buckets = itertools.count()


@pytest.fixture(scope="session")
def gcs_url() -> Iterator[str]:
    with gcs_emulator() as url:
        yield url


@pytest.fixture
def bucket(gcs_url: str, worker_id: str) -> str:
    name = f"lk-{worker_id}-{next(_buckets)}"
    storage_client(gcs_url).create_bucket(name)
    return name


@pytest.fixture
def compute() -> Iterator[FakeCompute]:
    with fake_compute() as fake:
        fake.wait_hold = 0.5  # Google holds a wait up to two minutes; tests have no time for that
        yield fake
    assert not fake.crashes, f"the fake Compute API crashed: {fake.crashes}"


@pytest.fixture
def gcp_env(gcs_url: str, compute: FakeCompute, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment a user would set to point lkcloud at the emulators (and nothing else)."""
    env = {
        "STORAGE_EMULATOR_HOST": gcs_url,
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": f"{compute.base}/compute/v1/",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "LKCLOUD_CACHE": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LKCLOUD_GCP_POLL_MIN": "0.01",
        "LKCLOUD_GCP_POLL_MAX": "0.05",
        "LKCLOUD_GCP_UPLOAD_CHUNK_MIB": "0.25",
        "LKCLOUD_GCP_CALL_BUDGET": "10",
        "LKCLOUD_GCP_UPLOAD_BUDGET": "10",
        "LKCLOUD_GCP_OPERATION_TIMEOUT": "30",
        "LKCLOUD_GCP_ROLLOUT_TIMEOUT": "30",
    }
    for key in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CORE_PROJECT", "LKCLOUD_GCP_PROJECT",
                "LKCLOUD_GCP_BUCKET", "LKCLOUD_GCP_MACHINE_TYPE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    defaults = tmp_path / "fleets.yml"  # health checks that settle (or fail) in a few seconds
    defaults.write_text((ROOT / "templates" / "fleets.yml").read_text().replace(
        "interval_seconds: 10, timeout_seconds: 5, grace_seconds: 300}",
        "interval_seconds: 1, timeout_seconds: 1, grace_seconds: 0}"))
    monkeypatch.setenv("LKCLOUD_FLEET_DEFAULTS", str(defaults))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    return env


def make_api(env: dict[str, str], **flags: Any) -> Api:
    config, clients = connect(Flags(**{"project": PROJECT, **flags}), Settings(files=[], env=env), env)
    return Api.of(dataclasses.replace(config, chunk_size=256 << 10), clients)


def hurried(api: Api, **budgets: float) -> Api:
    """``api`` with some budgets shortened (seconds)."""
    return Api.of(dataclasses.replace(api.config, budgets=dataclasses.replace(api.config.budgets, **budgets)),
                  api.clients)


@pytest.fixture
def api(gcp_env: dict[str, str], bucket: str) -> Api:
    return make_api(gcp_env, bucket=bucket, zone="europe-west1-b")


@pytest.fixture
def raw_disk(tmp_path: Path) -> Path:
    """A 64 MiB sparse raw disk (an MBR mark, so it reads as a disk) with a few MiB of
    incompressible data in three places."""
    path = tmp_path / "disk.raw"
    rng = random.Random(42)
    with path.open("wb") as fh:
        fh.truncate(64 << 20)
        for offset, size in ((0, 1 << 20), (8 << 20, 3 << 20 | 1234), (60 << 20, 64 << 10)):
            fh.seek(offset)
            fh.write(rng.randbytes(size))
        fh.seek(510)
        fh.write(b"\x55\xaa")
    return path
