"""The GCP provider: Compute Engine images, instances and regional managed instance groups."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lkcloud import state
from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import (
    Artifact,
    FleetSpec,
    FleetStatus,
    ImageRecord,
    PushResult,
    RefreshResult,
    RunRequest,
    RunResult,
    UpdatePolicy,
)
from lkcloud.settings import Settings
from lkcloud_gcp import fleet, image, instances, prune, push
from lkcloud_gcp.clients import Api, Flags, connect
from lkcloud_gcp.instances import MachineOptions


def rollout_from(policy: UpdatePolicy | None) -> fleet.Rollout:
    """The provider-neutral update policy in GCE terms."""
    if policy is None:
        return fleet.Rollout()
    return fleet.Rollout(max_surge=policy.max_surge, max_unavailable=policy.max_unavailable,
                         canary_percent=policy.canary_percent, min_ready=policy.warmup_seconds)


class GcpProvider:
    """Push, run, fleets and image pruning on Google Compute Engine."""

    name = "gcp"
    image_format = "gcp"

    def __init__(self, api: Api, push_options: push.PushOptions | None = None, shielded: bool = False,
                 family_filter: str | None = None, state_dir: Path | None = None) -> None:
        self.api = api
        self.push_options = push_options or push.PushOptions(record_in=state_dir)
        self.shielded = shielded
        self.family_filter = family_filter
        self.state_dir = state_dir

    @classmethod
    def from_flags(cls, flags: Flags, settings: Settings | None = None, *, push_options: push.PushOptions | None = None,
                   shielded: bool = False, family_filter: str | None = None) -> GcpProvider:
        """Resolve project, credentials and endpoints (flag > env > config file > ADC)."""
        config, clients = connect(flags, settings)
        return cls(Api(config, clients), push_options, shielded, family_filter)

    # -- images ---------------------------------------------------------------------------
    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        return push.push(self.api, artifact, self.push_options, reporter)

    def images_list(self) -> list[ImageRecord]:
        return prune.list_images(self.api, self.family_filter)

    def images_prune(self, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]:
        return prune.prune(self.api, keep, self.family_filter, dry_run, reporter)

    # -- instances ------------------------------------------------------------------------
    def default_image(self) -> str:
        """The image last pushed to GCP from this directory."""
        last = state.last(push.SECTION, self.state_dir)
        if not last or not last.get("self_link"):
            raise UsageError("no image given and none pushed to GCP from this directory",
                             hint="pass an image name, or run `lkcloud push gcp FILE` first")
        return str(last["self_link"])

    def _machine(self, ref: str, user_data: bytes | None, machine_type: str | None, zonal: bool) -> MachineOptions:
        link = str(image.resolve(self.api, ref).self_link)
        shielded, secure_boot = instances.shielded_config(self.api, link, self.shielded)
        kind = machine_type or self.api.config.machine_type
        if zonal and "/" not in kind:
            kind = f"zones/{self.api.config.zone}/machineTypes/{kind}"
        return MachineOptions(image_link=link, machine_type=kind, user_data=user_data, network=self.api.config.network,
                              shielded=shielded, secure_boot=secure_boot)

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult:
        ref = request.image or self.default_image()
        machine = self._machine(ref, request.user_data, request.instance_type, zonal=True)
        return instances.run(self.api, replace(request, image=ref), machine, reporter)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus:
        image.validate_name(spec.name, "fleet name")
        machine = self._machine(spec.image, spec.user_data, spec.instance_type, zonal=False)
        return fleet.create(self.api, spec.name, spec.size, machine, reporter)

    def fleet_status(self, name: str) -> FleetStatus:
        return fleet.status(self.api, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        return fleet.scale(self.api, name, size, reporter)

    def fleet_refresh(
        self, name: str, image: str, user_data: bytes | None = None, policy: UpdatePolicy | None = None,
        reporter: Reporter = NULL, *, rollout: fleet.Rollout | None = None, machine_type: str | None = None,
    ) -> RefreshResult:
        change = fleet.Change(image=image or None, user_data=user_data, machine_type=machine_type)
        return fleet.refresh(self.api, name, change, rollout or rollout_from(policy), reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        fleet.delete(self.api, name, reporter)
