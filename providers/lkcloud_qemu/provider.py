"""The QEMU provider: images are local files, instances are local VMs, fleets are N detached VMs.

``run`` boots in the foreground with the console on the terminal, or detached (``--detach``,
or more than one VM), or until the console matches ``--wait-for`` (for scripts and tests).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from lkcloud import diskfile
from lkcloud.errors import ProviderError, UsageError
from lkcloud.platform import BootMode
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.registry import entry
from lkcloud.provider.types import (
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
from lkcloud.settings import Settings
from lkcloud_qemu import bootsource, config, launch, state, store, vm
from lkcloud_qemu.bootsource import SourceKind
from lkcloud_qemu.console import BootFailedError
from lkcloud_qemu.fleet.manager import Fleets
from lkcloud_qemu.machine import LOOPBACK, Disk, Forward, parse_disk, parse_publish


@dataclass(frozen=True)
class RunOptions:
    """How ``run`` boots: the QEMU-only flags."""

    state_dir: Path | None = None
    boot: BootMode | None = None
    disks: tuple[Disk, ...] = ()
    publish: tuple[Forward, ...] = ()
    cmdline: str = ""
    detach: bool = False
    wait_for: str | None = None
    stop: bool = False


def _regex(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise UsageError(f"--wait-for {value!r}: not a regular expression: {exc}") from None
    return value


class QemuProvider:
    """Runs images under local QEMU (see :class:`lkcloud.provider.interface.Provider`)."""

    name: ClassVar[str] = "qemu"
    image_format = "kernel+initrd"

    def __init__(self, cfg: config.QemuConfig | None = None, run_options: RunOptions | None = None) -> None:
        self.config = cfg or config.load()
        self.options = run_options or RunOptions()

    @classmethod
    def from_settings(cls, settings: Settings, **flags: Any) -> QemuProvider:
        cfg = config.load(settings, mem=flags.get("mem"), cpus=flags.get("cpus"), accel=flags.get("accel"),
                          timeout=flags.get("timeout"))
        options = RunOptions(
            state_dir=flags.get("state_dir"), boot=flags.get("boot"),
            disks=tuple(parse_disk(d) for d in flags.get("disks") or ()),
            publish=tuple(parse_publish(p) for p in flags.get("publish") or ()),
            cmdline=flags.get("cmdline") or "", detach=bool(flags.get("detach")),
            wait_for=_regex(flags.get("wait_for")), stop=bool(flags.get("stop")))
        return cls(cfg, options)

    # -- images ----------------------------------------------------------------------------------

    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        return store.push(artifact, self.config.images, reporter)

    def resolve_image(self, ref: str) -> str:
        """A local image: a file of a kind QEMU boots, or the NAME prefix of a kernel+initrd."""
        if self.options.stop:
            return ref  # a VM name or state directory, not an image
        path = Path(ref)
        if path.is_file():
            diskfile.expect(path, entry(self.name).accepts, "run qemu")
        source = bootsource.resolve(ref, self.options.boot)  # absolute, links kept: NAME-kernel stays a prefix
        return str(source.path).removesuffix(diskfile.KERNEL_SUFFIX) if source.kind is SourceKind.KERNEL \
            else str(source.path)

    def images_list(self) -> list[ImageRecord]:
        return store.list_images(self.config.images, self._in_use())

    def image_delete(self, record: ImageRecord, reporter: Reporter = NULL) -> None:
        store.delete(record, reporter)

    def _in_use(self) -> set[str]:
        """The image ids running VMs boot from: single VMs and fleet VMs."""
        fleets = self.config.state_root / "fleets"
        roots = [self.config.state_root, *(sorted(fleets.iterdir()) if fleets.is_dir() else [])]
        return {rec.image.removesuffix(diskfile.KERNEL_SUFFIX) for root in roots for rec in state.list_vms(root)
                if rec.running}

    # -- run -------------------------------------------------------------------------------------

    def _vm(self, request: RunRequest, name: str, count: int) -> vm.VmOptions:
        # Several VMs cannot share a host port: each gets its own free one.
        forwards = tuple(replace(f, host=0) if count > 1 else f for f in self.options.publish)
        state_dir = self.options.state_dir if count == 1 else None
        return vm.VmOptions(image=request.image, name=name, state_dir=state_dir, mem=self.config.mem,
                            cpus=self.config.cpus, accel=self.config.accel, boot=self.options.boot,
                            disks=self.options.disks, forwards=forwards, user_data=request.user_data,
                            cmdline=self.options.cmdline, ovmf=self.config.ovmf, arch=vm.asked_arch(request.arch),
                            aavmf=self.config.aavmf)

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult:
        """Boot ``request.count`` VMs: in the foreground, detached, or until ``--wait-for``."""
        if self.options.stop:
            return self._stop(request.image)
        base = request.name or Path(request.image).name.split(".")[0]
        if request.count > 1 or self.options.detach:
            return self._detached(request, base, reporter)
        prepared = vm.prepare(self._vm(request, base, 1), self.config.state_root,
                              console=self.options.wait_for is not None)
        instance = Instance(id=prepared.machine.name, image=request.image, state="stopped", address=LOOPBACK)
        if self.options.wait_for is None:
            reporter.step(f"VM {prepared.machine.name}: state in {prepared.state_dir}; quit with Ctrl-A X")
            code = launch.run_interactive(prepared)
            if code:
                raise ProviderError(f"qemu exited with status {code}")
            return RunResult(self.name, (instance,))
        echo = _echo if request.console else None
        reporter.step(f"VM {prepared.machine.name}: state in {prepared.state_dir}")
        try:
            matched = launch.run_until(prepared, self.options.wait_for, self.config.timeout, echo)
        except BootFailedError as exc:
            for line in exc.console_tail:
                reporter.step(f"  console | {line}")
            raise
        return RunResult(self.name, (instance,), console=matched.line.strip())

    def _detached(self, request: RunRequest, base: str, reporter: Reporter) -> RunResult:
        names = [base] if request.count == 1 else [f"{base}-{i}" for i in range(request.count)]
        instances: list[Instance] = []
        try:
            for name in names:
                prepared = vm.prepare(self._vm(request, name, len(names)), self.config.state_root)
                started, proc = launch.start(prepared)
                reporter.step(f"VM {name} (pid {started.pid}) state in {started.state_dir}")
                if self.options.wait_for is not None:
                    launch.wait(started, proc, self.options.wait_for, self.config.timeout)
                instances.append(Instance(id=name, image=request.image, state="running", health=Health.STARTING,
                                          address=LOOPBACK, port=started.port))
        except BaseException:
            for instance in instances:  # all or nothing: stop the VMs this call started
                state.stop(self.config.state_root / instance.id)
            raise
        console = str(self.config.state_root / names[0] / state.CONSOLE) if request.console else None
        return RunResult(self.name, tuple(instances), console=console)

    def _stop(self, target: str) -> RunResult:
        state_dir = Path(target) if os.sep in target else self.config.state_root / target
        stopped = state.stop(state_dir)
        return RunResult(self.name, (Instance(id=str(state_dir), image="", state="stopped" if stopped else
                                              "not running"),))

    # -- fleets ----------------------------------------------------------------------------------

    def fleets(self) -> Fleets:
        return Fleets(self.config)

    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus:
        return self.fleets().create(spec, spec.image, spec.health, reporter)

    def fleet_status(self, name: str) -> FleetStatus:
        return self.fleets().status(name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        return self.fleets().scale(name, size, reporter)

    def fleet_refresh(self, name: str, image: str | None, user_data: bytes | None = None,
                      policy: UpdatePolicy | None = None, reporter: Reporter = NULL) -> RefreshResult:
        return self.fleets().refresh(name, image, user_data, policy, reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        self.fleets().delete(name, reporter)


def _echo(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()
