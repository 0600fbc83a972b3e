"""``run gcp``: instances of an image, with LinuxKit user data and the serial console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.cloud import compute_v1

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags
from lkcloud.provider.types import Health, Instance, RunRequest, RunResult
from lkcloud_gcp import image, operations
from lkcloud_gcp.calls import call, request_id
from lkcloud_gcp.clients import Api
from lkcloud_gcp.console import ConsoleOptions, read_console

USER_DATA_KEY = "user-data"
MANAGED = tuple(tags.spell(tags.standard(), tags.Style.LABELS).items())
HEALTH = {"RUNNING": Health.HEALTHY, "PROVISIONING": Health.STARTING, "STAGING": Health.STARTING}


@dataclass(frozen=True)
class MachineOptions:
    """What an instance or a fleet's template gets beyond the image."""

    image_link: str
    machine_type: str  # a bare name (e2-small) for templates, zones/Z/machineTypes/T for instances
    user_data: bytes | None = None
    network: str = "global/networks/default"
    shielded: bool = False
    secure_boot: bool = False
    labels: tuple[tuple[str, str], ...] = MANAGED
    tags: tuple[str, ...] = ()  # network tags (a fleet's firewall rule targets them)


def user_data_text(user_data: bytes | None) -> str | None:
    """User data as the metadata value it becomes: text, so it must be UTF-8."""
    if user_data is None:
        return None
    try:
        return user_data.decode()
    except UnicodeDecodeError as exc:
        raise UsageError(f"user data is not UTF-8 text (byte {exc.start}): GCE metadata values are text",
                         hint="give LinuxKit user-data JSON, or encode binary content (base64)") from None


def metadata(user_data: bytes | None) -> Any:
    """Instance metadata: LinuxKit user data under ``user-data``."""
    text = user_data_text(user_data)
    return compute_v1.Metadata(items=[] if text is None else [compute_v1.Items(key=USER_DATA_KEY, value=text)])


def shielded_config(api: Api, image_link: str, wanted: bool) -> tuple[bool, bool]:
    """(shielded, secure boot) for an image: vTPM needs UEFI_COMPATIBLE; secure boot also needs
    the image to carry its own Secure Boot keys (lkcloud's boot chain is otherwise unsigned)."""
    if not wanted:
        return False, False
    found = image.resolve(api, image_link)
    features = {f.type_ for f in found.guest_os_features}
    if "UEFI_COMPATIBLE" not in features:
        raise UsageError(f"image {found.name} does not boot by UEFI; shielded VMs need UEFI_COMPATIBLE",
                         hint="push it with --boot-mode uefi or both")
    keys = found.shielded_instance_initial_state
    return True, bool(keys and keys.db)


def properties(options: MachineOptions) -> dict[str, Any]:
    """The fields an Instance and an InstanceProperties share."""
    boot = compute_v1.AttachedDiskInitializeParams(source_image=options.image_link)
    fields: dict[str, Any] = {
        "machine_type": options.machine_type,
        "disks": [compute_v1.AttachedDisk(boot=True, auto_delete=True, initialize_params=boot)],
        "network_interfaces": [compute_v1.NetworkInterface(network=options.network, access_configs=[
            compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
        "metadata": metadata(options.user_data),
        "labels": dict(options.labels),
    }
    if options.tags:
        fields["tags"] = compute_v1.Tags(items=list(options.tags))
    if options.shielded:
        fields["shielded_instance_config"] = compute_v1.ShieldedInstanceConfig(
            enable_vtpm=True, enable_integrity_monitoring=True, enable_secure_boot=options.secure_boot)
    return fields


def to_instance(found: Any, image_link: str) -> Instance:
    address = None
    for nic in found.network_interfaces:
        address = next((ac.nat_i_p for ac in nic.access_configs if ac.nat_i_p), None) or nic.network_i_p or None
    return Instance(id=found.name, image=image_link, state=found.status,
                    health=HEALTH.get(found.status, Health.UNKNOWN), address=address)


def instance_names(request: RunRequest, image_name: str) -> list[str]:
    base = image.validate_name(request.name or image_name[:57], "instance name")
    return [base] if request.count == 1 else [f"{base}-{i}" for i in range(request.count)]


def run(api: Api, request: RunRequest, options: MachineOptions, console: ConsoleOptions,
        reporter: Reporter = NULL) -> RunResult:
    """Create ``request.count`` instances and wait for them; with ``console``, their serial output."""
    zone = api.config.zone
    names = instance_names(request, image.image_name(options.image_link.rsplit("/", 1)[-1]))
    made = []
    for name in names:
        body = compute_v1.Instance(name=name, **properties(options))
        insert = compute_v1.InsertInstanceRequest(project=api.project, zone=zone, instance_resource=body,
                                                  request_id=request_id())
        reporter.step(f"starting {name} in {zone}")
        op = call(api, f"creating instance {name}", api.clients.instances.insert_unary, request=insert)
        operations.wait(api, op, f"instance {name}", reporter)
        found = call(api, f"reading instance {name}", api.clients.instances.get,
                     project=api.project, zone=zone, instance=name)
        made.append(to_instance(found, options.image_link))
    text = "".join(read_console(api, zone, n, console, reporter) for n in names) if request.console else None
    return RunResult("gcp", tuple(made), text)
