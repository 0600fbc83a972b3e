"""Azure settings, declared once (``azure.*`` keys, ``LKCLOUD_AZURE_*`` variables, ``[azure]`` in
lkcloud.toml), and the typed configuration the provider is built from."""

from __future__ import annotations

from dataclasses import dataclass

from lkcloud.settings import declare

SUBSCRIPTION = declare("azure.subscription", None, "subscription id (else AZURE_SUBSCRIPTION_ID)")
RESOURCE_GROUP = declare("azure.resource-group", None, "resource group every lkcloud resource lives in")
LOCATION = declare("azure.location", "westeurope", "region for images, VMs and scale sets")
STORAGE_ACCOUNT = declare("azure.storage-account", None, "storage account that receives VHD page blobs")
CONTAINER = declare("azure.container", "lkcloud", "blob container for uploaded VHDs")
VM_SIZE = declare("azure.vm-size", None, "VM size for run and fleets (default: templates/fleets.yml, per arch)",
                  kind=str)
GALLERY = declare("azure.gallery", None, "Azure Compute Gallery that pushed images are published to")
CONCURRENCY = declare("azure.upload-concurrency", 16, "4 MiB pages in flight during a VHD upload")
CALL_SECONDS = declare("azure.call-seconds", 300.0,
                       "seconds one request may keep failing on throttling, 5xx or connection errors")
BACKOFF = declare("azure.backoff-seconds", 0.5, "first wait before retrying a request (doubles, with jitter)")
POLL = declare("azure.poll-seconds", 5.0, "first wait between polls of long-running operations and upgrades")
POLL_MAX = declare("azure.poll-max-seconds", 15.0, "longest wait between polls")
CONSOLE_SECONDS = declare("azure.console-seconds", 600.0,
                          "seconds run --console waits for boot diagnostics to hold the serial log")
OPERATION_SECONDS = declare("azure.operation-seconds", 3600.0,
                            "seconds a long-running operation or rolling upgrade may go without progress")

ARM_DEFAULT = "https://management.azure.com"
ARM_OVERRIDE = "LKCLOUD_AZURE_ARM_ENDPOINT"
STORAGE_OVERRIDE = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass(frozen=True)
class Timing:
    """Time budgets (seconds) of Azure calls and waits."""

    call_seconds: float = 300.0  # one request failing transiently, without progress
    backoff: float = 0.5
    poll: float = 5.0
    poll_max: float = 15.0
    operation_seconds: float = 3600.0  # a long-running operation or upgrade without progress
    console_seconds: float = 600.0  # run --console waiting for the serial log


@dataclass(frozen=True)
class AzureConfig:
    """Everything an :class:`~lkcloud_azure.provider.AzureProvider` needs, resolved once."""

    subscription: str
    resource_group: str
    location: str = "westeurope"
    storage_account: str | None = None
    container: str = "lkcloud"
    vm_size: str | None = None  # None: the per-architecture default of templates/fleets.yml
    gallery: str | None = None
    concurrency: int = 16
    timing: Timing = Timing()
