"""GCP settings, declared once, and the typed configuration the provider is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lkcloud.settings import declare

PROJECT = declare("gcp.project", None, "GCP project (else CLOUDSDK_CORE_PROJECT, else the ADC project)")
ZONE = declare("gcp.zone", "us-central1-a", "zone for `run gcp`")
REGION = declare("gcp.region", None, "region for fleets; defaults to the zone's region")
BUCKET = declare("gcp.bucket", None, "GCS bucket that receives image archives before images.insert")
MACHINE_TYPE = declare("gcp.machine-type", "e2-small", "machine type for instances and fleets")
FAMILY = declare("gcp.family", None, "image family pushed images join")
STORAGE_LOCATION = declare("gcp.storage-location", None, "where image data is stored (region or multi-region)")
NETWORK = declare("gcp.network", "global/networks/default", "VPC network for instances and fleets")
POLL_MIN = declare("gcp.poll-min", 0.5, "seconds: the shortest wait between polls of an operation or a fleet")
POLL_MAX = declare("gcp.poll-max", 15.0, "seconds: the longest wait between polls of an operation or a fleet")
CHUNK_MIB = declare("gcp.upload-chunk-mib", 16.0, "resumable upload chunk size in MiB (a multiple of 0.25)")


@dataclass(frozen=True)
class Timing:
    """Deadlines and polling bounds (seconds) for operations and fleet rollouts."""

    operation_deadline: float = 1800.0
    stable_deadline: float = 3600.0
    poll_min: float = 0.5
    poll_max: float = 15.0
    request_deadline: float = 300.0  # retrying one transient-failing call


@dataclass(frozen=True)
class GcpConfig:
    """Everything a :class:`~lkcloud_gcp.provider.GcpProvider` needs, resolved once."""

    project: str
    zone: str = "us-central1-a"
    region: str | None = None
    bucket: str | None = None
    machine_type: str = "e2-small"
    family: str | None = None
    storage_location: str | None = None
    network: str = "global/networks/default"
    chunk_size: int = 16 << 20
    # resumable sessions, by content (resolve_config puts them under the cache directory)
    upload_state: Path = field(default_factory=lambda: Path("~/.lkcloud/cache/gcp-uploads").expanduser())
    timing: Timing = field(default_factory=Timing)

    @property
    def fleet_region(self) -> str:
        """The region fleets live in: the configured one, else the zone's."""
        return self.region or self.zone.rsplit("-", 1)[0]
