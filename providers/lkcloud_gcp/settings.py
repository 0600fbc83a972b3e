"""GCP settings, declared once, and the typed configuration the provider is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lkcloud.settings import Setting, Settings, declare

PROJECT = declare("gcp.project", None, "GCP project (else CLOUDSDK_CORE_PROJECT, else the ADC project)", str)
ZONE = declare("gcp.zone", "us-central1-a", "zone for `run gcp`")
REGION = declare("gcp.region", None, "region for fleets; defaults to the zone's region", str)
BUCKET = declare("gcp.bucket", None, "Cloud Storage bucket that receives image archives before images.insert", str)
MACHINE_TYPE = declare("gcp.machine-type", None, "machine type (default: the fleet defaults' for the architecture)",
                       str)
STORAGE_LOCATION = declare("gcp.storage-location", None, "where image data is stored (region or multi-region)", str)
NETWORK = declare("gcp.network", "global/networks/default", "VPC network for instances and fleets")
CHUNK_MIB = declare("gcp.upload-chunk-mib", 16.0, "resumable upload chunk size in MiB (a multiple of 0.25)")
POLL_MIN = declare("gcp.poll-min", 0.5, "seconds: the shortest wait between polls or retries")
POLL_MAX = declare("gcp.poll-max", 15.0, "seconds: the longest wait between polls or retries")
CONSOLE_MARKER = declare("gcp.console-marker", "Welcome to LinuxKit",
                         "run --console reads the serial console until this regular expression matches")
CONSOLE_TIMEOUT = declare("gcp.console-timeout", 120.0, "seconds run --console waits for the marker")
CALL_BUDGET = declare("gcp.call-budget", 300.0, "seconds one API call may keep failing transiently")
UPLOAD_BUDGET = declare("gcp.upload-budget", 300.0, "seconds an upload may keep failing without progress")
OPERATION_TIMEOUT = declare("gcp.operation-timeout", 1800.0, "seconds an operation may run without finishing")
ROLLOUT_TIMEOUT = declare("gcp.rollout-timeout", 3600.0, "seconds a fleet change may go without progress")


@dataclass(frozen=True)
class Budgets:
    """How long (seconds) each kind of work may go without progress, and how often to poll."""

    call: float = 300.0  # one API call failing transiently
    upload: float = 300.0  # an upload failing transiently without committing more bytes
    operation: float = 1800.0  # an operation not reaching DONE
    rollout: float = 3600.0  # a fleet not becoming stable
    poll_min: float = 0.5
    poll_max: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Budgets:
        def number(setting: Setting) -> float:
            return float(str(settings.get(setting)))

        return cls(call=number(CALL_BUDGET), upload=number(UPLOAD_BUDGET), operation=number(OPERATION_TIMEOUT),
                   rollout=number(ROLLOUT_TIMEOUT), poll_min=number(POLL_MIN), poll_max=number(POLL_MAX))


@dataclass(frozen=True)
class GcpConfig:
    """Everything a :class:`~lkcloud_gcp.provider.GcpProvider` needs, resolved once."""

    project: str
    zone: str = "us-central1-a"
    region: str | None = None
    bucket: str | None = None
    machine_type: str | None = None  # None: the fleet defaults' type for the architecture
    storage_location: str | None = None
    network: str = "global/networks/default"
    chunk_size: int = 16 << 20
    # resumable sessions, by content (resolve_config puts them under the cache directory)
    upload_state: Path = field(default_factory=lambda: Path("~/.lkcloud/cache/gcp-uploads").expanduser())
    budgets: Budgets = field(default_factory=Budgets)

    @property
    def fleet_region(self) -> str:
        """The region fleets live in: the configured one, else the zone's."""
        return self.region or self.zone.rsplit("-", 1)[0]
