"""A local fleet on disk: ``<state root>/fleets/<name>/``.

::

    fleet.json      image, size, health check, update policy, next VM index, architecture
    user-data       the user data every VM gets on its cidata CD (when given)
    .lock           held while a command changes the fleet
    <name>-<n>/     one VM state directory per instance (see lkcloud_qemu.state)

VM indexes only grow, so a replacement never reuses the directory of the VM it replaces.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.provider.types import HealthCheck, UpdatePolicy
from lkcloud_qemu import state

RECORD = "fleet.json"
USER_DATA = "user-data"
LOCK = ".lock"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")


@dataclass(frozen=True)
class FleetRecord:
    name: str
    image: str
    size: int
    check: HealthCheck = field(default_factory=HealthCheck)
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    next_index: int = 0
    arch: str | None = None  # the fleet's --arch; None: what each image says, else this machine's


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"fleet name {name!r}: use lowercase letters, digits and '-' (at most 42)")
    return name


class FleetDir:
    """One fleet's directory."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = check_name(name)
        self.path = root / "fleets" / name

    @property
    def exists(self) -> bool:
        return (self.path / RECORD).is_file()

    def read(self) -> FleetRecord:
        try:
            raw: dict[str, Any] = json.loads((self.path / RECORD).read_text())
        except FileNotFoundError:
            raise UsageError(f"no local fleet named {self.name!r}",
                             hint=f"create it: lkcloud fleet create qemu {self.name} --image IMAGE") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ProviderError(f"{self.path / RECORD}: cannot read the fleet record: {exc}") from exc
        return FleetRecord(name=raw["name"], image=raw["image"], size=int(raw["size"]),
                           check=HealthCheck(**raw.get("check", {})),
                           policy=UpdatePolicy(**raw.get("policy", {})), next_index=int(raw.get("next_index", 0)),
                           arch=raw.get("arch"))

    def write(self, record: FleetRecord) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path / RECORD) as fh:
            fh.write(json.dumps(dataclasses.asdict(record), indent=2, sort_keys=True).encode() + b"\n")

    def user_data(self) -> bytes | None:
        try:
            return (self.path / USER_DATA).read_bytes()
        except FileNotFoundError:
            return None

    def set_user_data(self, data: bytes | None) -> None:
        if data is None:
            (self.path / USER_DATA).unlink(missing_ok=True)
            return
        with atomic_output(self.path / USER_DATA, mode=0o600) as fh:
            fh.write(data)

    def vms(self) -> list[state.VmRecord]:
        """The fleet's VMs in index order (oldest first)."""
        found = state.list_vms(self.path)
        return sorted(found, key=lambda vm: index_of(vm.state_dir.name))

    def vm_dir(self, index: int) -> Path:
        return self.path / f"{self.name}-{index}"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the fleet's lock; a second command changing the same fleet is refused."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / LOCK).open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ProviderError(f"fleet {self.name!r} is being changed by another lkcloud command",
                                    hint="wait for it to finish") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def index_of(vm_name: str) -> int:
    tail = vm_name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def image_of(vm_record: state.VmRecord) -> str:
    """The fleet image id a VM boots (its recorded kernel path, without ``-kernel``)."""
    return vm_record.image.removesuffix("-kernel")
