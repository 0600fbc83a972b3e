"""Local fleets: N detached VMs of one image, each forwarding its own host port to the worker's
HTTP port, health read from ``/healthz``; refreshed one VM at a time like a cloud rolling update.

A refresh follows the fleet's :class:`UpdatePolicy`: with ``max_surge`` >= 1 a new VM is started
and must pass its health check before the VM it replaces is stopped (the fleet never drops below
N healthy); with ``max_surge`` 0 and ``max_unavailable`` >= 1 the old VM is stopped first (N-1
healthy while it boots), which ``min_healthy_percent`` must allow. A new VM that fails its health
check is stopped and the refresh ends there, the old VM still serving; with ``auto_rollback``
the VMs already replaced are rolled back to the old image.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from lkcloud.errors import ProviderError, UsageError
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import FleetSpec, FleetStatus, Health, HealthCheck, Instance, RefreshResult, UpdatePolicy
from lkcloud_qemu import launch, state, store, vm
from lkcloud_qemu.config import QemuConfig
from lkcloud_qemu.fleet.health import Probe, probe, wait_healthy
from lkcloud_qemu.fleet.roll import Roll, check_policy
from lkcloud_qemu.fleet.store import FleetDir, FleetRecord, image_of
from lkcloud_qemu.machine import LOOPBACK, Forward

PROVIDER = "qemu"
# pkg/metadata probes the clouds' metadata servers first; a local VM has only its cidata CD.
METADATA_CMDLINE = "lkcloud.metadata.providers=cdrom"
FAILURE_LOG = "last-failure.log"


@dataclass(frozen=True)
class Booted:
    """A VM started for the fleet and the outcome of its health check."""

    name: str
    state_dir: Path
    probe: Probe

    @property
    def healthy(self) -> bool:
        return self.probe.health is Health.HEALTHY


class Fleets:
    """Local fleets under the provider's state root."""

    def __init__(self, config: QemuConfig) -> None:
        self.config = config

    def dir(self, name: str) -> FleetDir:
        return FleetDir(self.config.state_root, name)

    # -- one VM --------------------------------------------------------------------------------

    def _allocate(self, fleet: FleetDir) -> FleetRecord:
        """The fleet's record as it was; its ``next_index`` is the new VM's, now taken."""
        record = fleet.read()
        fleet.write(replace(record, next_index=record.next_index + 1))
        return record

    def _start(self, fleet: FleetDir, image: str, user_data: bytes | None, check: HealthCheck) -> Path:
        record = self._allocate(fleet)
        index, arch = record.next_index, Arch(record.arch) if record.arch else None
        options = vm.VmOptions(
            image=image, name=f"{fleet.name}-{index}", state_dir=fleet.vm_dir(index), mem=self.config.mem,
            cpus=self.config.cpus, accel=self.config.accel, forwards=(Forward(0, check.port),),
            user_data=user_data, cmdline=METADATA_CMDLINE if user_data is not None else "", ovmf=self.config.ovmf,
            arch=arch, aavmf=self.config.aavmf,
        )
        prepared = vm.prepare(options, self.config.state_root)
        launch.start(prepared)  # detached: QEMU runs in its own session, recorded in its state dir
        return prepared.state_dir

    def _wait(self, state_dir: Path, check: HealthCheck) -> Booted:
        record = state.read(state_dir)
        port = record.port if record else None
        found = wait_healthy(port, check, lambda: state.running_pid(state_dir) is not None)
        return Booted(state_dir.name, state_dir, found)

    def boot(self, fleet: FleetDir, image: str, user_data: bytes | None, check: HealthCheck,
              reporter: Reporter) -> Booted:
        state_dir = self._start(fleet, image, user_data, check)
        reporter.step(f"  {state_dir.name}: booting {store.display(image)}, waiting for {check.path}")
        booted = self._wait(state_dir, check)
        reporter.step(f"  {booted.name}: {booted.probe.health.value}"
                      + (f" (version {booted.probe.version})" if booted.probe.version else "")
                      + (f": {booted.probe.detail}" if not booted.healthy else ""))
        return booted

    def remove(self, state_dir: Path, reporter: Reporter) -> None:
        reporter.step(f"  {state_dir.name}: stopping")
        state.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)

    def discard(self, fleet: FleetDir, booted: Booted, reporter: Reporter) -> str:
        """Stop a VM that failed its check, keeping its console log; returns the log's path."""
        kept = fleet.path / FAILURE_LOG
        console = booted.state_dir / state.CONSOLE
        if console.is_file():
            shutil.copyfile(console, kept)
        self.remove(booted.state_dir, reporter)
        return str(kept)

    # -- fleet verbs ---------------------------------------------------------------------------

    def create(self, spec: FleetSpec, image: str, check: HealthCheck, reporter: Reporter = NULL) -> FleetStatus:
        """Start ``spec.size`` VMs of ``image`` (a stored image id) and wait until each is healthy."""
        name, size = spec.name, spec.size
        fleet = self.dir(name)
        if size < 0:
            raise UsageError(f"--size {size}: give 0 or more")
        with fleet.locked():
            if fleet.exists:
                raise UsageError(f"a local fleet named {name!r} exists",
                                 hint=f"refresh it, or delete it first: lkcloud fleet delete qemu {name}")
            arch = vm.asked_arch(spec.arch)
            fleet.write(FleetRecord(name=name, image=image, size=size, check=check, policy=spec.policy,
                                    arch=str(arch) if arch else None))
            fleet.set_user_data(spec.user_data)
            reporter.step(f"fleet {name}: starting {size} VM(s)")
            self._grow(fleet, fleet.read(), size, reporter)
        return self.status(name)

    def _grow(self, fleet: FleetDir, record: FleetRecord, count: int, reporter: Reporter) -> None:
        """Start ``count`` VMs together (their boots overlap), then wait for each to be healthy."""
        user_data = fleet.user_data()
        started = [self._start(fleet, record.image, user_data, record.check) for _ in range(count)]
        for state_dir in started:
            reporter.step(f"  {state_dir.name}: waiting for {record.check.path}")
        failed = [b for b in (self._wait(d, record.check) for d in started) if not b.healthy]
        for booted in failed:
            log = self.discard(fleet, booted, reporter)
            raise ProviderError(f"{booted.name} did not become healthy: {booted.probe.detail}",
                                hint=f"its console log is {log}; see lkcloud fleet status qemu {fleet.name}")

    def status(self, name: str) -> FleetStatus:
        """Each VM's image, forwarded port, health and the version its ``/healthz`` reports."""
        fleet = self.dir(name)
        record = fleet.read()
        instances = tuple(self._instance(vm_record, record.check) for vm_record in fleet.vms())
        healthy = sum(i.health is Health.HEALTHY for i in instances)
        running = sum(i.state == "running" for i in instances)
        overall = "healthy" if healthy == record.size == len(instances) else "degraded" if running else "stopped"
        return FleetStatus(provider=PROVIDER, name=name, size=record.size, image=record.image,
                           instances=instances, state=overall)

    def _instance(self, vm_record: state.VmRecord, check: HealthCheck) -> Instance:
        found = probe(vm_record.port, check, vm_record.running)
        return Instance(id=vm_record.name, image=image_of(vm_record),
                        state="running" if vm_record.running else "stopped", health=found.health,
                        address=LOOPBACK, port=vm_record.port, version=found.version)

    def scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        """Start VMs of the fleet's image, or stop the newest, until there are ``size``."""
        if size < 0:
            raise UsageError(f"size {size}: give 0 or more")
        fleet = self.dir(name)
        with fleet.locked():
            record = fleet.read()
            vms = fleet.vms()
            fleet.write(replace(record, size=size))
            reporter.step(f"fleet {name}: {len(vms)} -> {size} VM(s)")
            for extra in vms[size:][::-1]:
                self.remove(extra.state_dir, reporter)
            if size > len(vms):
                self._grow(fleet, fleet.read(), size - len(vms), reporter)
        return self.status(name)

    def delete(self, name: str, reporter: Reporter = NULL) -> None:
        """Stop every VM of the fleet and remove its directory."""
        fleet = self.dir(name)
        if not fleet.path.is_dir():
            raise UsageError(f"no local fleet named {name!r}")
        with fleet.locked():
            for vm_record in fleet.vms():
                self.remove(vm_record.state_dir, reporter)
            shutil.rmtree(fleet.path, ignore_errors=True)

    # -- refresh -------------------------------------------------------------------------------

    def refresh(self, name: str, image: str | None, user_data: bytes | None = None,
                policy: UpdatePolicy | None = None, reporter: Reporter = NULL) -> RefreshResult:
        """Replace the VMs one at a time with ``image`` (None: the fleet's) and ``user_data``
        (None: the fleet's)."""
        fleet = self.dir(name)
        with fleet.locked():
            record = fleet.read()
            image = image or record.image
            policy = policy or record.policy
            check_policy(policy, record.size)
            old_data = fleet.user_data()
            new_data = old_data if user_data is None else user_data
            stale = [v for v in fleet.vms() if image_of(v) != image or new_data != old_data or not v.running]
            roll = Roll(self, fleet, record, policy, reporter)
            failure = roll.run(stale, image, new_data)
            if failure is None:
                fleet.write(replace(fleet.read(), image=image))
                fleet.set_user_data(new_data)
        status = self.status(name)
        message = failure or (f"replaced {len(stale)} of {record.size} VM(s)" if stale else "nothing to do")
        return RefreshResult(provider=PROVIDER, name=name, succeeded=failure is None, old_image=record.image,
                             new_image=image, message=message, status=status)
