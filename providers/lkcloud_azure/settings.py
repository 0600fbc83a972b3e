"""Azure settings, declared once (``azure.*`` keys, ``LKCLOUD_AZURE_*`` variables, ``[azure]`` in
lkcloud.toml), and the typed configuration the provider is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from lkcloud.settings import declare

SUBSCRIPTION = declare("azure.subscription", None, "subscription id (else AZURE_SUBSCRIPTION_ID)")
RESOURCE_GROUP = declare("azure.resource-group", None, "resource group every lkcloud resource lives in")
LOCATION = declare("azure.location", "westeurope", "region for images, VMs and scale sets")
STORAGE_ACCOUNT = declare("azure.storage-account", None, "storage account that receives VHD page blobs")
CONTAINER = declare("azure.container", "lkcloud", "blob container for uploaded VHDs")
VM_SIZE = declare("azure.vm-size", "Standard_B1s", "VM size for run and fleets")
GALLERY = declare("azure.gallery", None, "Azure Compute Gallery that pushed images are published to")
CONCURRENCY = declare("azure.upload-concurrency", 16, "4 MiB pages in flight during a VHD upload")
ATTEMPTS = declare("azure.attempts", 6, "attempts per request on throttling, 5xx and connection errors")
POLL = declare("azure.poll-seconds", 5.0, "seconds between polls of long-running operations and upgrades")
DEADLINE = declare("azure.deadline", 3600.0, "seconds: overall deadline of one upload, operation or upgrade")
HEALTH_PORT = declare("azure.health-port", 8080, "port of the Application Health extension's HTTP probe")
HEALTH_PATH = declare("azure.health-path", "/healthz", "path of the Application Health extension's HTTP probe")

ARM_DEFAULT = "https://management.azure.com"
ARM_OVERRIDE = "LKCLOUD_AZURE_ARM_ENDPOINT"
STORAGE_OVERRIDE = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass(frozen=True)
class Timing:
    """Retry and polling bounds (seconds) for every Azure call."""

    attempts: int = 6
    backoff: float = 0.5  # first wait between retries; grows exponentially with jitter
    backoff_max: float = 20.0
    poll: float = 5.0
    deadline: float = 3600.0
    request_deadline: float = 300.0  # retrying one transient-failing call


@dataclass(frozen=True)
class Health:
    """The Application Health extension's probe."""

    protocol: str = "http"
    port: int = 8080
    path: str = "/healthz"


@dataclass(frozen=True)
class AzureConfig:
    """Everything an :class:`~lkcloud_azure.provider.AzureProvider` needs, resolved once."""

    subscription: str
    resource_group: str
    location: str = "westeurope"
    storage_account: str | None = None
    container: str = "lkcloud"
    vm_size: str = "Standard_B1s"
    gallery: str | None = None
    concurrency: int = 16
    health: Health = field(default_factory=Health)
    timing: Timing = field(default_factory=Timing)
