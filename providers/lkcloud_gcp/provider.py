"""The GCP provider: Compute Engine images, instances and regional managed instance groups."""

from __future__ import annotations

from typing import Any, ClassVar

from lkcloud.errors import UsageError
from lkcloud.fleet import defaults as fleet_defaults
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import types as pt
from lkcloud.settings import Settings
from lkcloud_gcp import fleet, image, images, instances, push, rollout
from lkcloud_gcp import settings as s
from lkcloud_gcp.clients import Api, Flags, connect
from lkcloud_gcp.console import ConsoleOptions
from lkcloud_gcp.instances import MachineOptions

ARCHES = {gce: arch for arch, gce in image.ARCHITECTURES.items()}


def image_arch(found: Any, fallback: Arch) -> Arch:
    """The image's architecture (``fallback`` when the image does not say); UsageError for one
    lkcloud does not know."""
    gce = str(found.architecture or "")
    if gce in ("", "ARCHITECTURE_UNSPECIFIED"):
        return fallback
    if gce not in ARCHES:
        raise UsageError(f"image {found.name}: unknown architecture {gce}", hint="lkcloud runs X86_64 and ARM64 images")
    return ARCHES[gce]


class GcpProvider:
    """Push, run, fleets and images on Google Compute Engine."""

    name: ClassVar[str] = "gcp"
    image_format = "gcp"

    def __init__(self, api: Api, push_options: push.PushOptions | None = None, shielded: bool = False,
                 console: ConsoleOptions | None = None) -> None:
        self.api = api
        self.push_options = push_options or push.PushOptions()
        self.shielded = shielded
        self.console = console or ConsoleOptions()

    @classmethod
    def from_settings(cls, settings: Settings, **flags: Any) -> GcpProvider:
        """Project, credentials and endpoints resolved as Google's tools do (flag > env >
        lkcloud.toml > ADC); the flags are the option table's (:mod:`lkcloud_gcp.options`)."""
        given = Flags(project=flags.get("project"), zone=flags.get("zone"), region=flags.get("region"),
                      bucket=flags.get("bucket"), storage_location=flags.get("storage_location"))
        config, clients = connect(given, settings)
        options = push.PushOptions(features=tuple(flags.get("guest_os_features") or ()),
                                   labels=tuple(flags.get("labels") or ()), replace=bool(flags.get("replace")),
                                   keep_upload=bool(flags.get("keep_upload")))
        console = ConsoleOptions(marker=str(settings.get(s.CONSOLE_MARKER, flags.get("wait_for"))),
                                 timeout=float(str(settings.get(s.CONSOLE_TIMEOUT, flags.get("console_timeout")))))
        console.pattern()  # a bad --wait-for is refused before any API call
        return cls(Api.of(config, clients), options, bool(flags.get("shielded")), console)

    # -- images ---------------------------------------------------------------------------
    def push(self, artifact: pt.Artifact, reporter: Reporter = NULL) -> pt.PushResult:
        return push.push(self.api, artifact, self.push_options, reporter)

    def resolve_image(self, ref: str) -> str:
        return str(image.resolve(self.api, ref).self_link)

    def images_list(self) -> list[pt.ImageRecord]:
        return images.images_list(self.api)

    def image_delete(self, record: pt.ImageRecord, reporter: Reporter = NULL) -> None:
        images.image_delete(self.api, record, reporter)

    # -- instances ------------------------------------------------------------------------
    def _machine(self, ref: str, user_data: bytes | None, machine_type: str | None, arch: Arch,
                 zonal: bool) -> MachineOptions:
        instances.user_data_text(user_data)  # refused before any API call
        found = image.resolve(self.api, ref)
        link = str(found.self_link)
        shielded, secure_boot = instances.shielded_config(self.api, link, self.shielded)
        kind = fleet_defaults.instance_type(self.name, image_arch(found, arch), machine_type,
                                            self.api.config.machine_type, flag="--machine-type")
        if zonal and "/" not in kind:
            kind = f"zones/{self.api.config.zone}/machineTypes/{kind}"
        return MachineOptions(image_link=link, machine_type=kind, user_data=user_data, network=self.api.config.network,
                              shielded=shielded, secure_boot=secure_boot)

    def run(self, request: pt.RunRequest, reporter: Reporter = NULL) -> pt.RunResult:
        machine = self._machine(request.image, request.user_data, request.instance_type, request.arch, zonal=True)
        return instances.run(self.api, request, machine, self.console, reporter)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: pt.FleetSpec, reporter: Reporter = NULL) -> pt.FleetStatus:
        image.validate_name(spec.name, "fleet name")
        machine = self._machine(spec.image, spec.user_data, spec.instance_type, spec.arch, zonal=False)
        return fleet.create(self.api, spec.name, spec.size, machine, health=spec.health, reporter=reporter)

    def fleet_status(self, name: str) -> pt.FleetStatus:
        return fleet.status(self.api, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> pt.FleetStatus:
        return fleet.scale(self.api, name, size, reporter)

    def fleet_refresh(self, name: str, image: str | None, user_data: bytes | None, policy: pt.UpdatePolicy,
                      reporter: Reporter = NULL) -> pt.RefreshResult:
        return rollout.refresh(self.api, name, rollout.Change(image=image, user_data=user_data), policy, reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        fleet.delete(self.api, name, reporter)
