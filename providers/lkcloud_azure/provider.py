"""The Azure provider: managed images (and gallery versions), VMs and VM scale sets."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from lkcloud_azure import fleet, image, instances, prune, push
from lkcloud_azure.clients import Api, Flags, connect
from lkcloud_azure.instances import MachineOptions


@dataclass(frozen=True)
class RunOptions:
    """Knobs of `run` and `fleet create` beyond the shared request."""

    ssh_key: str | None = None
    public_ip: bool = True


def rolling_from(policy: UpdatePolicy | None) -> fleet.Rolling:
    """The provider-neutral update policy in scale-set terms."""
    if policy is None:
        return fleet.Rolling()
    unhealthy = max(5, 100 - policy.min_healthy_percent)
    return fleet.Rolling(max_batch=max(5, min(100, policy.canary_percent or 20)), max_unhealthy=unhealthy,
                         max_unhealthy_upgraded=unhealthy, pause_seconds=policy.pause_seconds)


class AzureProvider:
    """Push, run, fleets and image pruning on Azure."""

    name = "azure"
    image_format = "vhd"

    def __init__(self, api: Api, push_options: push.PushOptions | None = None, run_options: RunOptions | None = None,
                 state_dir: Path | None = None) -> None:
        self.api = api
        self.push_options = push_options or push.PushOptions(record_in=state_dir)
        self.run_options = run_options or RunOptions()
        self.state_dir = state_dir

    @classmethod
    def from_flags(cls, flags: Flags, settings: Settings | None = None, *, push_options: push.PushOptions | None = None,
                   run_options: RunOptions | None = None) -> AzureProvider:
        """Resolve subscription, group, credentials and endpoints (flag > env > config file)."""
        return cls(connect(flags, settings), push_options, run_options)

    # -- images ---------------------------------------------------------------------------
    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        return push.push(self.api, artifact, self.push_options, reporter)

    def images_list(self) -> list[ImageRecord]:
        return prune.list_images(self.api)

    def images_prune(self, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]:
        return prune.prune(self.api, keep, dry_run, reporter)

    # -- instances ------------------------------------------------------------------------
    def default_image(self) -> str:
        """The image (or gallery version) last pushed to Azure from this directory."""
        last = state.last(push.SECTION, self.state_dir)
        if not last or not last.get("id"):
            raise UsageError("no image given and none pushed to Azure from this directory",
                             hint="pass an image name, or run `lkcloud push azure FILE` first")
        return str(last.get("gallery_version") or last["id"])

    def _machine(self, ref: str, user_data: bytes | None, vm_size: str | None, console: bool = False) -> MachineOptions:
        return MachineOptions(image_id=image.resolve(self.api, ref), vm_size=vm_size or self.api.config.vm_size,
                              user_data=user_data, ssh_key=self.run_options.ssh_key,
                              public_ip=self.run_options.public_ip, console=console)

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult:
        ref = request.image or self.default_image()
        machine = self._machine(ref, request.user_data, request.instance_type, request.console)
        base = ref.rstrip("/").rsplit("/", 1)[-1]
        return instances.run(self.api, replace(request, image=ref), machine, base, reporter)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL, *,
                     rolling: fleet.Rolling | None = None) -> FleetStatus:
        machine = self._machine(spec.image, spec.user_data, spec.instance_type)
        return fleet.create(self.api, spec.name, spec.size, machine, rolling=rolling or rolling_from(spec.policy),
                            reporter=reporter)

    def fleet_status(self, name: str) -> FleetStatus:
        return fleet.status(self.api, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        return fleet.scale(self.api, name, size, reporter)

    def fleet_refresh(
        self, name: str, image: str, user_data: bytes | None = None, policy: UpdatePolicy | None = None,
        reporter: Reporter = NULL, *, rolling: fleet.Rolling | None = None,
    ) -> RefreshResult:
        image_id = self._machine(image, None, None).image_id if image else None
        return fleet.refresh(self.api, name, image_id, user_data, rolling=rolling or rolling_from(policy),
                             reporter=reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        fleet.delete(self.api, name, reporter)
