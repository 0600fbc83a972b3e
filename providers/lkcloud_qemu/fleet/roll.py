"""One rolling update of a local fleet: replace VMs in order, stop at the first failed health
check; with a canary, stop at that percent of the fleet for the policy's pause first."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lkcloud.errors import UsageError
from lkcloud.progress import Reporter
from lkcloud.provider.types import UpdatePolicy
from lkcloud_qemu import state
from lkcloud_qemu.console import ConsoleReader
from lkcloud_qemu.fleet.store import FleetDir, FleetRecord, image_of

if TYPE_CHECKING:
    from lkcloud_qemu.fleet.manager import Booted, Fleets

CONSOLE_TAIL = 8


def check_policy(policy: UpdatePolicy, size: int) -> None:
    """A local refresh replaces one VM at a time: it needs a surge or one VM allowed down."""
    if policy.max_surge >= 1:
        return
    if policy.max_unavailable < 1:
        raise UsageError("update policy: max_surge 0 and max_unavailable 0 leave no way to replace a VM",
                         hint="allow max_surge: 1 (start the new VM first) or max_unavailable: 1")
    if size and 100 * (size - 1) < policy.min_healthy_percent * size:
        raise UsageError(f"update policy: stopping 1 of {size} VMs breaks min_healthy_percent "
                         f"{policy.min_healthy_percent}", hint="allow max_surge: 1, or lower min_healthy_percent")


class Roll:
    """One rolling update: replace VMs in order; stop at the first failed health check."""

    def __init__(self, fleets: Fleets, fleet: FleetDir, record: FleetRecord, policy: UpdatePolicy,
                 reporter: Reporter) -> None:
        self.fleets, self.fleet, self.record, self.policy, self.reporter = fleets, fleet, record, policy, reporter

    def run(self, stale: list[state.VmRecord], image: str, user_data: bytes | None) -> str | None:
        """None when every VM was replaced, else what failed (after any rollback)."""
        replaced: list[Booted] = []
        for number, old in enumerate(stale, 1):
            self.reporter.step(f"fleet {self.fleet.name}: replacing {old.name} ({number}/{len(stale)})")
            booted, failure = self.replace(old, image, user_data)
            if failure is not None:
                return failure + self.rollback(replaced)
            assert booted is not None
            replaced.append(booted)
            if number == self.checkpoint(len(stale)) and number < len(stale):
                self.reporter.step(f"fleet {self.fleet.name}: canary checkpoint, pausing {self.policy.pause_seconds} s")
                time.sleep(self.policy.pause_seconds)  # the policy's pause at the checkpoint, not a poll
        return None

    def checkpoint(self, count: int) -> int:
        """After how many replaced VMs the canary pause comes (0: no canary)."""
        if not self.policy.canary_percent or not self.policy.pause_seconds:
            return 0
        return max(1, math.floor(count * self.policy.canary_percent / 100))

    def replace(self, old: state.VmRecord, image: str, user_data: bytes | None) -> tuple[Booted | None, str | None]:
        fleets, check = self.fleets, self.record.check
        surge = self.policy.max_surge >= 1
        if not surge:
            fleets.remove(old.state_dir, self.reporter)
        booted = fleets.boot(self.fleet, image, user_data, check, self.reporter)
        if booted.healthy:
            if surge:
                fleets.remove(old.state_dir, self.reporter)
            return booted, None
        log = fleets.discard(self.fleet, booted, self.reporter)
        failure = f"{booted.name} failed its health check ({booted.probe.detail}); console log: {log}"
        tail = ConsoleReader(Path(log))
        tail.poll()
        for line in tail.tail(CONSOLE_TAIL):
            self.reporter.step(f"    | {line}")
        if surge:
            return None, failure + f"; {old.name} still serves the old image"
        restored = fleets.boot(self.fleet, image_of(old), self._old_data(), check, self.reporter)
        return None, failure + f"; {restored.name} restarted on the old image"

    def _old_data(self) -> bytes | None:
        return self.fleet.user_data()

    def rollback(self, replaced: list[Booted]) -> str:
        if not replaced:
            return ""
        if not self.policy.auto_rollback:
            return f"; {len(replaced)} VM(s) already on the new image (no auto_rollback)"
        self.reporter.step(f"fleet {self.fleet.name}: rolling back {len(replaced)} VM(s)")
        for booted in replaced:
            vm_record = state.read(booted.state_dir)
            if vm_record is not None:
                self.replace(vm_record, self.record.image, self._old_data())
        return f"; rolled back {len(replaced)} VM(s) to the old image"
