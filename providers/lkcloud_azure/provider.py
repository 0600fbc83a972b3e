"""The Azure provider: managed images (and gallery versions), VMs and VM scale sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lkcloud.errors import UsageError
from lkcloud.fleet import defaults as fleet_defaults
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import types as pt
from lkcloud.settings import Settings
from lkcloud_azure import fleet, image, images, instances, push
from lkcloud_azure.clients import Api, Flags, connect
from lkcloud_azure.instances import MachineOptions

SSH_KEY_TYPES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")


@dataclass(frozen=True)
class RunOptions:
    """Knobs of `run` and `fleet create` beyond the shared request."""

    ssh_key: str | None = None
    public_ip: bool = True
    allow_ports: tuple[int, ...] | None = None  # None: the fleet's service port (its health check's)


def parse_ports(values: tuple[str, ...] | None) -> tuple[int, ...] | None:
    """--allow-port values as TCP ports (1-65535), or a UsageError naming the bad one."""
    if not values:
        return None
    ports = []
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise UsageError(f"--allow-port {value!r}: not a TCP port (1-65535)")
        ports.append(int(value))
    return tuple(dict.fromkeys(ports))


def read_ssh_key(path: Path | None) -> str | None:
    """The OpenSSH public key in ``path`` (one line), or a UsageError naming the file."""
    if path is None:
        return None
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ssh-key {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if "\n" in text or not text.startswith(SSH_KEY_TYPES):
        raise UsageError(f"--ssh-key {path}: not an OpenSSH public key",
                         hint="give the .pub file, e.g. ~/.ssh/id_ed25519.pub")
    return text


class AzureProvider:
    """Push, run, fleets and images on Azure (see :class:`lkcloud.provider.interface.Provider`)."""

    name: ClassVar[str] = "azure"
    image_format = "vhd"

    def __init__(self, api: Api, push_options: push.PushOptions | None = None,
                 run_options: RunOptions | None = None) -> None:
        self.api = api
        self.push_options = push_options or push.PushOptions()
        self.run_options = run_options or RunOptions()

    @classmethod
    def from_settings(cls, settings: Settings, **flags: Any) -> AzureProvider:
        """Subscription, group, credentials and endpoints: flag > LKCLOUD_AZURE_* > AZURE_* > lkcloud.toml."""
        given = Flags(subscription=flags.get("subscription"), resource_group=flags.get("resource_group"),
                      location=flags.get("location"), storage_account=flags.get("storage_account"),
                      container=flags.get("container"), gallery=flags.get("gallery"))
        push_options = push.PushOptions(
            generation=flags.get("generation"), gallery=flags.get("gallery"), definition=flags.get("image_definition"),
            version=flags.get("version"), replicate_to=tuple(flags.get("replicate_to") or ()),
            tags=tuple(flags.get("tags") or ()), parent=flags.get("parent"))
        run_options = RunOptions(ssh_key=read_ssh_key(flags.get("ssh_key")),
                                 public_ip=flags.get("public_ip") is not False,
                                 allow_ports=parse_ports(flags.get("allow_ports")))
        return cls(connect(given, settings, os.environ), push_options, run_options)

    # -- images ---------------------------------------------------------------------------
    def push(self, artifact: pt.Artifact, reporter: Reporter = NULL) -> pt.PushResult:
        return push.push(self.api, artifact, self.push_options, reporter)

    def resolve_image(self, ref: str) -> str:
        return image.resolve(self.api, ref)

    def images_list(self) -> list[pt.ImageRecord]:
        return images.list_images(self.api)

    def image_delete(self, record: pt.ImageRecord, reporter: Reporter = NULL) -> None:
        images.delete(self.api, record, reporter)

    # -- instances ------------------------------------------------------------------------
    def vm_size(self, given: str | None, arch: Arch) -> str:
        """--instance-type (--vm-size), else azure.vm-size, else templates/fleets.yml for ``arch``."""
        return fleet_defaults.instance_type(self.name, arch, given, self.api.config.vm_size, flag="--vm-size")

    def ports(self, health: pt.HealthCheck) -> tuple[int, ...]:
        """--allow-port, else the service port (the health check's) and nothing else."""
        return self.run_options.allow_ports or (health.port,)

    def _machine(self, ref: str, user_data: bytes | None, vm_size: str, ports: tuple[int, ...],
                 console: bool = False) -> MachineOptions:
        return MachineOptions(image_id=image.resolve(self.api, ref), vm_size=vm_size, user_data=user_data,
                              ssh_key=self.run_options.ssh_key, public_ip=self.run_options.public_ip, console=console,
                              ports=ports)

    def run(self, request: pt.RunRequest, reporter: Reporter = NULL) -> pt.RunResult:
        machine = self._machine(request.image, request.user_data, self.vm_size(request.instance_type, request.arch),
                                self.ports(fleet_defaults.defaults(self.name).health), request.console)
        return instances.run(self.api, request, machine, instances.base_name(machine.image_id),
                             console_timeout=self.api.config.timing.console_seconds, reporter=reporter)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: pt.FleetSpec, reporter: Reporter = NULL) -> pt.FleetStatus:
        rolling = fleet.Rolling.of(spec.policy)  # checked before anything is made
        ports = self.ports(spec.health)
        machine = self._machine(spec.image, spec.user_data, self.vm_size(spec.instance_type, spec.arch), ports)
        return fleet.create(self.api, spec.name, spec.size, machine, rolling=rolling, health=spec.health, ports=ports,
                            reporter=reporter)

    def fleet_status(self, name: str) -> pt.FleetStatus:
        return fleet.status(self.api, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> pt.FleetStatus:
        return fleet.scale(self.api, name, size, reporter)

    def fleet_refresh(self, name: str, image: str | None, user_data: bytes | None, policy: pt.UpdatePolicy,
                      reporter: Reporter = NULL) -> pt.RefreshResult:
        rolling = fleet.Rolling.of(policy)
        image_id = self.resolve_image(image) if image else None
        return fleet.refresh(self.api, name, image_id, user_data, rolling=rolling, reporter=reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        fleet.delete(self.api, name, reporter)
