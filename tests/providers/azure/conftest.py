"""Fixtures for the Azure provider: Azurite for blobs, the fake Resource Manager over local
https, and an Api bound to both through the environment variables a user would set."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.settings import Settings
from lkcloud_azure.clients import Api, Flags, connect, make_calls
from lkcloud_azure.provider import AzureProvider
from lkcloud_azure.push import PushOptions
from lkcloud_azure.settings import Timing
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.azure_tls import TlsFiles, self_signed
from tests.servers.azurite import azurite, azurite_executable, connection_string
from tests.servers.azurite_copy import AsyncCopyProxy
from tests.servers.fake_arm import FakeArm, fake_arm

SUBSCRIPTION = "00000000-0000-0000-0000-00000000cafe"
GROUP = "lk-test"
TOKEN = "test-bearer-token"
FAST = Timing(call_seconds=20, backoff=0.01, poll=0.01, poll_max=0.05, operation_seconds=30)
FAST_ENV = {"LKCLOUD_AZURE_CALL_SECONDS": "20", "LKCLOUD_AZURE_BACKOFF_SECONDS": "0.01",
            "LKCLOUD_AZURE_POLL_SECONDS": "0.01", "LKCLOUD_AZURE_POLL_MAX_SECONDS": "0.05",
            "LKCLOUD_AZURE_OPERATION_SECONDS": "30"}
FAST_CALLS = make_calls(FAST)
_containers = itertools.count()


@pytest.fixture(scope="session")
def azurite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service behind the proxy that copies blobs as Azure does: asynchronously,
    into independent blobs (tests/servers/azurite_copy.py)."""
    if azurite_executable() is None:
        pytest.skip("Azurite is not installed: run scripts/bootstrap (npm install azurite@3.35.0 into .tools)")
    with azurite(tmp_path_factory.mktemp("azurite")) as url, AsyncCopyProxy(url, polls=2) as proxy:
        yield proxy.url


@pytest.fixture
def container(worker_id: str) -> str:
    return f"lk-{worker_id}-{next(_containers)}"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def arm(tls: TlsFiles) -> Iterator[FakeArm]:
    with fake_arm(tls, groups={GROUP}) as fake:
        yield fake


@pytest.fixture
def azure_env(azurite_url: str, arm: FakeArm, tls: TlsFiles, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment that points lkcloud (and nothing else) at Azurite and the fake."""
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite_url),
        "LKCLOUD_AZURE_ARM_ENDPOINT": arm.base,
        "REQUESTS_CA_BUNDLE": str(tls.cert),
        "AZURE_ACCESS_TOKEN": TOKEN,
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "LKCLOUD_AZURE_RESOURCE_GROUP": GROUP,
        **FAST_ENV,
        "LKCLOUD_CACHE": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    for key in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "LKCLOUD_AZURE_SUBSCRIPTION",
                "LKCLOUD_AZURE_STORAGE_ACCOUNT", "LKCLOUD_AZURE_GALLERY", "LKCLOUD_AZURE_CONTAINER",
                "LKCLOUD_AZURE_VM_SIZE", "LKCLOUD_ARCH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    return env


def make_api(env: dict[str, str], **flags: str) -> Api:
    return connect(Flags(**flags), Settings(files=[], env=env), env)


@pytest.fixture
def api(azure_env: dict[str, str], container: str) -> Api:
    return make_api(azure_env, container=container, location="westeurope")


def provider(api: Api, **push: object) -> AzureProvider:
    return AzureProvider(api, PushOptions(**push))  # type: ignore[arg-type]


@pytest.fixture
def vhd(tmp_path: Path) -> Path:
    """A 24 MiB fixed VHD with data in three places (one crossing a 4 MiB page boundary)."""
    extents = ((0, 1 * MIB), (3 * MIB + 512 * 1024, 1 * MIB + 64 * 1024), (20 * MIB, 128 * 1024))
    return make_vhd(tmp_path / "disk.vhd", 24, extents)
