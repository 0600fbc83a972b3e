"""Credentials, project and endpoints, resolved the way Google's own tools do, and the API
clients built from them.

Endpoints: ``CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE`` (gcloud's override, a base URL such as
``http://127.0.0.1:8123/compute/v1/``) and ``STORAGE_EMULATOR_HOST`` (``http://127.0.0.1:9023``).
Every client is built from the same options, including the operations clients, so nothing
falls back to the public endpoints behind our back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lkcloud.errors import CredentialsError, UsageError
from lkcloud.provider.calls import Budget, Calls
from lkcloud.settings import Settings, cache_dir
from lkcloud_gcp import settings as gcp_settings
from lkcloud_gcp.calls import GcpErrors
from lkcloud_gcp.settings import Budgets, GcpConfig

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
STORAGE_DEFAULT = "https://storage.googleapis.com"
COMPUTE_OVERRIDE = "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"
STORAGE_OVERRIDE = "STORAGE_EMULATOR_HOST"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_API_PATH = re.compile(r"/?compute/(v1|beta|alpha)/?$")


@dataclass(frozen=True)
class Endpoints:
    """API roots: ``compute`` is what the REST transport prefixes to ``/compute/v1/...``."""

    compute: str | None = None  # None: the client library's default
    storage: str = STORAGE_DEFAULT

    @property
    def local(self) -> bool:
        """True when an endpoint points at a local emulator or fake."""
        hosts = {urlsplit(url).hostname for url in (self.compute, self.storage) if url}
        return bool(hosts & LOOPBACK)


def compute_root(override: str) -> str:
    """The REST transport's api_endpoint for a gcloud-style base URL (``…/compute/v1/``)."""
    parts = urlsplit(override)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"{COMPUTE_OVERRIDE}={override!r} is not an http(s) URL",
            hint="give the API base URL, e.g. http://127.0.0.1:8123/compute/v1/",
        )
    path = _API_PATH.sub("", parts.path).rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def endpoints_from_env(env: Mapping[str, str]) -> Endpoints:
    compute = env.get(COMPUTE_OVERRIDE) or None
    storage = (env.get(STORAGE_OVERRIDE) or STORAGE_DEFAULT).rstrip("/")
    if "://" not in storage:
        storage = "http://" + storage
    return Endpoints(compute=compute_root(compute) if compute else None, storage=storage)


def _adc_available(env: Mapping[str, str]) -> bool:
    """Explicit ADC sources only: no metadata-server probe against a local emulator."""
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    config = env.get("CLOUDSDK_CONFIG") or str(Path.home() / ".config" / "gcloud")
    return (Path(config) / "application_default_credentials.json").is_file()


def load_credentials(endpoints: Endpoints, env: Mapping[str, str]) -> tuple[Any, str | None]:
    """Credentials and the ADC project; anonymous against a local emulator without ADC."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError

    if endpoints.local and not _adc_available(env):
        anonymous: Any = AnonymousCredentials  # untyped in google-auth
        return anonymous(), None
    try:
        credentials, project = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError as exc:
        raise CredentialsError(
            "no Google credentials found",
            hint="run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
        ) from exc
    return credentials, project


@dataclass(frozen=True)
class Flags:
    """What the command line may give; None defers to env, config file and defaults."""

    project: str | None = None
    zone: str | None = None
    region: str | None = None
    bucket: str | None = None
    storage_location: str | None = None


def known_project(flag: str | None, settings: Settings, env: Mapping[str, str]) -> str | None:
    """--project, then CLOUDSDK_CORE_PROJECT, then LKCLOUD_GCP_PROJECT or lkcloud.toml."""
    value, source = settings.resolve(gcp_settings.PROJECT, flag)
    found = value if source == "flag" else env.get("CLOUDSDK_CORE_PROJECT") or value
    return str(found) if found else None


def require_project(project: str | None) -> str:
    if not project:
        raise UsageError(
            "no GCP project given",
            hint="pass --project, set CLOUDSDK_CORE_PROJECT, or put `project` under [gcp] in lkcloud.toml",
        )
    return project


def resolve_config(flags: Flags, settings: Settings, project: str) -> GcpConfig:
    s = gcp_settings
    chunk_mib = float(str(settings.get(s.CHUNK_MIB)))
    return GcpConfig(
        project=project,
        zone=settings.text(s.ZONE, flags.zone) or "us-central1-a",
        region=settings.text(s.REGION, flags.region),
        bucket=settings.text(s.BUCKET, flags.bucket),
        machine_type=settings.text(s.MACHINE_TYPE),
        storage_location=settings.text(s.STORAGE_LOCATION, flags.storage_location),
        network=settings.text(s.NETWORK) or "global/networks/default",
        chunk_size=max(1, round(chunk_mib * 4)) * (256 << 10),
        upload_state=cache_dir(settings) / "gcp-uploads",
        budgets=Budgets.from_settings(settings),
    )


COMPUTE_CLIENTS = {
    "images": "ImagesClient", "instances": "InstancesClient", "templates": "InstanceTemplatesClient",
    "groups": "RegionInstanceGroupManagersClient", "health_checks": "HealthChecksClient",
    "firewalls": "FirewallsClient", "global_operations": "GlobalOperationsClient",
    "zone_operations": "ZoneOperationsClient", "region_operations": "RegionOperationsClient",
}


class Clients:
    """The API clients for one project, all built from the same credentials and endpoints."""

    def __init__(self, credentials: Any, endpoints: Endpoints) -> None:
        self.credentials = credentials
        self.endpoints = endpoints

    def _compute(self, cls: Any) -> Any:
        from google.api_core.client_options import ClientOptions

        options = ClientOptions(api_endpoint=self.endpoints.compute) if self.endpoints.compute else None
        return cls(credentials=self.credentials, transport="rest", client_options=options)

    def __getattr__(self, name: str) -> Any:
        """The Compute client ``name`` names (:data:`COMPUTE_CLIENTS`), built on first use."""
        if name not in COMPUTE_CLIENTS:
            raise AttributeError(name)
        from google.cloud import compute_v1

        client = self._compute(getattr(compute_v1, COMPUTE_CLIENTS[name]))
        setattr(self, name, client)
        return client

    @cached_property
    def session(self) -> Any:
        """An authorized HTTP session for the Cloud Storage JSON API."""
        from google.auth.transport.requests import AuthorizedSession

        session: Any = AuthorizedSession  # untyped in google-auth
        return session(self.credentials)


def connect(flags: Flags, settings: Settings | None = None,
            env: Mapping[str, str] | None = None) -> tuple[GcpConfig, Clients]:
    """The resolved configuration and the clients for it; the project falls back to ADC's."""
    environ = dict(os.environ if env is None else env)
    settings = settings or Settings()
    endpoints = endpoints_from_env(environ)
    known = known_project(flags.project, settings, environ)
    credentials, adc_project = load_credentials(endpoints, environ)
    project = require_project(known or adc_project)
    return resolve_config(flags, settings, project), Clients(credentials, endpoints)


def calls_for(budgets: Budgets) -> Calls:
    """The one call/wait layer, with GCP's errors and these budgets."""
    budget = Budget(seconds=budgets.call, backoff=budgets.poll_min, backoff_max=budgets.poll_max)
    return Calls(GcpErrors(), budget, poll_min=budgets.poll_min, poll_max=budgets.poll_max)


@dataclass(frozen=True)
class Api:
    """What every GCP step needs: the resolved configuration, the clients, and the calls
    through which every request goes."""

    config: GcpConfig
    clients: Clients
    calls: Calls

    @classmethod
    def of(cls, config: GcpConfig, clients: Clients) -> Api:
        return cls(config, clients, calls_for(config.budgets))

    @property
    def project(self) -> str:
        return self.config.project
