"""The QEMU provider: images are local files, instances are detached local VMs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.fleetfile import HealthSettings, defaults
from lkcloud.progress import NULL, Reporter
from lkcloud.providers import (
    Artifact,
    FleetSpec,
    FleetStatus,
    Health,
    ImageRecord,
    Instance,
    PushResult,
    RefreshResult,
    RunRequest,
    RunResult,
    UpdatePolicy,
)
from lkcloud_qemu import fleet_images, images, launch, state, vm
from lkcloud_qemu.config import QemuConfig, load
from lkcloud_qemu.fleet import Fleets
from lkcloud_qemu.machine import Forward


class QemuProvider:
    """Runs images under local QEMU; ``publish`` holds the guest ports every VM forwards."""

    name = "qemu"
    image_format = "qcow2-bios"

    def __init__(self, config: QemuConfig | None = None, *, publish: Sequence[Forward] = ()) -> None:
        self.config = config or load()
        self.publish = tuple(publish)

    def _options(self, request: RunRequest, name: str, count: int) -> vm.VmOptions:
        # Several VMs cannot share a host port: each gets its own free one.
        forwards = tuple(replace(f, host=0) if count > 1 else f for f in self.publish)
        return vm.VmOptions(
            image=request.image, name=name, state_dir=self.config.state_root / name, mem=self.config.mem,
            cpus=self.config.cpus, accel=self.config.accel, forwards=forwards, user_data=request.user_data,
            ovmf=self.config.ovmf,
        )

    def start(self, options: vm.VmOptions) -> launch.Started:
        """Boot one VM detached."""
        prepared = vm.prepare(options, self.config.state_root)
        started, _ = launch.start(prepared)
        return started

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult:
        """Boot ``request.count`` VMs detached; an instance's id is its state directory's name."""
        if request.count < 1:
            raise UsageError(f"count {request.count}: give at least 1")
        base = request.name or Path(request.image).name.split(".")[0].removesuffix("-kernel")
        names = [base] if request.count == 1 else [f"{base}-{i}" for i in range(request.count)]
        instances: list[Instance] = []
        try:
            for name in names:
                reporter.step(f"starting VM {name}")
                started = self.start(self._options(request, name, request.count))
                instances.append(Instance(id=name, image=request.image, state="running", health=Health.STARTING,
                                          address="127.0.0.1", port=started.port))
        except BaseException:
            for instance in instances:  # all or nothing: stop the VMs this call started
                self.stop(instance.id)
            raise
        console = str(self.config.state_root / names[0] / state.CONSOLE) if request.console else None
        return RunResult(provider=self.name, instances=tuple(instances), console=console)

    def stop(self, instance_id: str) -> bool:
        """Stop a VM by id (its state directory's name) or state directory path."""
        is_path = os.sep in instance_id
        return state.stop(Path(instance_id) if is_path else self.config.state_root / instance_id)

    def instances(self) -> list[Instance]:
        return [
            Instance(id=rec.name, image=rec.image, state="running" if rec.running else "stopped",
                     address="127.0.0.1", port=rec.port)
            for rec in state.list_vms(self.config.state_root)
        ]

    def _in_use(self) -> set[str]:
        """The image files running VMs boot from: single VMs and fleet VMs, every kernel+initrd part."""
        fleets = self.config.state_root / "fleets"
        roots = [self.config.state_root, *(sorted(fleets.iterdir()) if fleets.is_dir() else [])]
        used = {rec.image for root in roots for rec in state.list_vms(root) if rec.running}
        parts = {path.removesuffix("-kernel") + part for path in used if path.endswith("-kernel")
                 for part in fleet_images.KERNEL_PARTS}
        return used | parts

    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        return images.push(artifact, self.config.images, reporter)

    def images_list(self) -> list[ImageRecord]:
        return images.list_images(self.config.images, self._in_use())

    def images_prune(self, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]:
        return images.prune(self.config.images, self._in_use(), keep, reporter, dry_run)

    # -- fleets: N detached VMs (lkcloud_qemu.fleet) ------------------------------------------

    def fleets(self) -> Fleets:
        return Fleets(self.config)

    def build_image(self, files: Sequence[Path], reporter: Reporter = NULL) -> str:
        """Build LinuxKit YAML (merged in order) and store it: the image id a fleet boots."""
        return self.fleets().resolve_image([str(f) for f in files], reporter)

    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus:
        fleets = self.fleets()
        image = fleets.resolve_image([spec.image], reporter)
        return fleets.create(spec, image, health_check(), reporter)

    def fleet_status(self, name: str) -> FleetStatus:
        return self.fleets().status(name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        return self.fleets().scale(name, size, reporter)

    def fleet_refresh(self, name: str, image: str, user_data: bytes | None = None,
                      policy: UpdatePolicy | None = None, reporter: Reporter = NULL) -> RefreshResult:
        fleets = self.fleets()
        fleets.dir(name).read()  # a missing fleet is reported before anything is built
        return fleets.refresh(name, fleets.resolve_image([image], reporter), user_data, policy, reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        self.fleets().delete(name, reporter)


def health_check() -> HealthSettings:
    """The QEMU fleet health check from the provider's fleet defaults (templates/fleets.yml)."""
    return defaults("qemu").health_check
