"""Configuration and the Azure clients built from it.

Endpoints: ``LKCLOUD_AZURE_ARM_ENDPOINT`` replaces the Resource Manager
(``https://management.azure.com``; the token scope follows it), and
``AZURE_STORAGE_CONNECTION_STRING`` replaces the storage account (Azurite, or a key-based
account). Every client has the SDK's retries off: every call goes through one
:class:`~lkcloud.provider.calls.Calls` with the Azure error policy (:mod:`lkcloud_azure.calls`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

from lkcloud.errors import UsageError
from lkcloud.provider.calls import Budget, Calls
from lkcloud.settings import Setting, Settings
from lkcloud_azure import credentials, lro
from lkcloud_azure import settings as s
from lkcloud_azure.calls import AzureErrors, find
from lkcloud_azure.settings import AzureConfig, Timing

T = TypeVar("T")

CONNECT_TIMEOUT = 15
READ_TIMEOUT = 120


@dataclass(frozen=True)
class Flags:
    """What the command line may give; None defers to env, config file and defaults."""

    subscription: str | None = None
    resource_group: str | None = None
    location: str | None = None
    storage_account: str | None = None
    container: str | None = None
    gallery: str | None = None


def arm_endpoint(env: Mapping[str, str]) -> str:
    value = (env.get(s.ARM_OVERRIDE) or s.ARM_DEFAULT).rstrip("/")
    if urlsplit(value).scheme != "https":
        raise UsageError(f"{s.ARM_OVERRIDE}={value!r} is not an https URL",
                         hint="Resource Manager takes bearer tokens over https only")
    return value


def resolve_config(flags: Flags, settings: Settings, subscription: str) -> AzureConfig:
    def text(setting: Setting, flag: str | None) -> str | None:
        return settings.text(setting, flag)

    group = text(s.RESOURCE_GROUP, flags.resource_group)
    if not group:
        raise UsageError("no Azure resource group given",
                         hint="pass --resource-group, or put `resource-group` under [azure] in lkcloud.toml")
    def number(setting: Setting) -> float:
        return float(str(settings.get(setting)))

    timing = Timing(call_seconds=number(s.CALL_SECONDS), backoff=number(s.BACKOFF), poll=number(s.POLL),
                    poll_max=max(number(s.POLL), number(s.POLL_MAX)),
                    operation_seconds=number(s.OPERATION_SECONDS), console_seconds=number(s.CONSOLE_SECONDS))
    return AzureConfig(
        subscription=subscription,
        resource_group=group,
        location=text(s.LOCATION, flags.location) or "westeurope",
        storage_account=text(s.STORAGE_ACCOUNT, flags.storage_account),
        container=text(s.CONTAINER, flags.container) or "lkcloud",
        vm_size=text(s.VM_SIZE, None),
        gallery=text(s.GALLERY, flags.gallery),
        concurrency=max(1, int(str(settings.get(s.CONCURRENCY)))),
        timing=timing,
    )


class Clients:
    """The management clients for one subscription and the blob service, built on first use."""

    def __init__(self, credential: Any, subscription: str, arm: str, env: Mapping[str, str], *,
                 storage_account: str | None, connections: int = 16) -> None:
        self.credential = credential
        self.subscription = subscription
        self.arm = arm
        self.env = dict(env)
        self.storage_account = storage_account
        self.connections = connections  # parallel page uploads share one connection pool

    def _mgmt(self, cls: Any) -> Any:
        return cls(self.credential, self.subscription, base_url=self.arm, credential_scopes=[f"{self.arm}/.default"],
                   retry_total=0, connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)

    @cached_property
    def compute(self) -> Any:
        from azure.mgmt.compute import ComputeManagementClient

        return self._mgmt(ComputeManagementClient)

    @cached_property
    def network(self) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        return self._mgmt(NetworkManagementClient)

    @cached_property
    def storage(self) -> Any:
        from azure.mgmt.storage import StorageManagementClient

        return self._mgmt(StorageManagementClient)

    @property
    def connection_string(self) -> str | None:
        return self.env.get(s.STORAGE_OVERRIDE) or None

    @property
    def arm_token_only(self) -> bool:
        """The credential is a Resource Manager token (AZURE_ACCESS_TOKEN): Blob storage must not get it."""
        return isinstance(self.credential, credentials.StaticToken)

    def blob_service(self, endpoint: str | None = None, credential: Any = None) -> Any:
        """A blob service client with a connection pool for parallel pages: from the connection
        string, else ``endpoint`` with ``credential`` (an account key, or an Entra ID credential)."""
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.blob import BlobServiceClient

        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self.connections)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        options: dict[str, Any] = {"retry_total": 0, "connection_timeout": CONNECT_TIMEOUT,
                                   "read_timeout": READ_TIMEOUT, "transport": RequestsTransport(session=session)}
        if endpoint is None:
            assert self.connection_string is not None
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        return BlobServiceClient(endpoint, credential=credential, **options)


def make_calls(timing: Timing) -> Calls:
    """The one call/wait layer of an Azure provider, with its time budgets."""
    return Calls(AzureErrors(), Budget(seconds=timing.call_seconds, backoff=timing.backoff),
                 poll_min=timing.poll, poll_max=timing.poll_max)


@dataclass(frozen=True)
class Api:
    """What every Azure step needs: the resolved configuration, the clients and the calls."""

    config: AzureConfig
    clients: Clients
    calls: Calls

    @property
    def group(self) -> str:
        return self.config.resource_group

    def call(self, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return self.calls.call(what, fn, *args, **kwargs)

    def find(self, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
        """Like :meth:`call`, but a missing resource (not a missing resource group) is None."""
        return find(self.calls, what, fn, *args, **kwargs)

    def operation(self, what: str, begin: Callable[..., Any], /, *args: Any, missing_ok: bool = False,
                  **kwargs: Any) -> dict[str, Any] | None:
        """Start a long-running operation (``begin_*``) and follow it to its end (:mod:`lro`);
        with ``missing_ok``, a resource that is not there is None (a delete of what is gone)."""
        started = lro.Captured()
        if missing_ok:
            if self.find(what, begin, *args, polling=started, **kwargs) is None:
                return None
        else:
            self.calls.call(what, begin, *args, polling=started, **kwargs)
        return lro.follow(self.calls, what, started, self.config.timing.operation_seconds)


def connect(flags: Flags, settings: Settings | None = None, env: Mapping[str, str] | None = None) -> Api:
    """The resolved configuration and clients; credentials are checked here, once."""
    environ = dict(os.environ if env is None else env)
    settings = settings or Settings()
    subscription = credentials.subscription(flags.subscription, settings, environ)
    config = resolve_config(flags, settings, subscription)
    arm = arm_endpoint(environ)
    credential = credentials.credential(environ, f"{arm}/.default")
    return Api(config, Clients(credential, subscription, arm, environ, storage_account=config.storage_account,
                               connections=config.concurrency), make_calls(config.timing))
