"""EC2 as AWS behaves where moto does not: RegisterImage keeps what it is given (mappings,
root device, BootMode, ENA, IMDS, TPM, tags) and rejects unknown snapshots and duplicate names;
CopyImage carries those attributes and its TagSpecifications; ImportSnapshot and
DescribeImportSnapshotTasks exist (tasks stay active for a few polls, then produce a real
snapshot holding the S3 object's bytes; the ClientToken replays the first task). Switched on per
test (``moto_ext_behaviour``): IAM propagation delays, Local Zones, launch-template ClientTokens."""

from __future__ import annotations

from typing import Any

import moto_ext_behaviour as behaviour
from moto.core.responses import ActionResult
from moto.ebs.models import ebs_backends
from moto.ec2.models.availability_zones_and_regions import Zone
from moto.ec2.responses import EC2Response
from moto.ec2.utils import parse_user_data
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse
from moto.s3.models import s3_backends
from moto_ext_errors import fault
from moto_ext_images import RegisteredAmi, adopt

BLOCK_SIZE = 524288
IMPORT_POLLS = 2  # an import task reports "active" this many times before it completes
LOCAL_ZONE = "us-east-1-bos-1a"

_ATTRIBUTES = ("architecture", "root_device_name", "boot_mode", "ena_support", "sriov_net_support",
               "imds_support", "tpm_support", "virtualization_type")


def _mappings(backend: Any, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mappings = []
    for item in raw:
        ebs = dict(item.get("Ebs") or {})
        snapshot_id = ebs.get("SnapshotId")
        if snapshot_id not in backend.snapshots:
            raise fault("ec2", "InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
        ebs.setdefault("VolumeSize", backend.snapshots[snapshot_id].volume.size)
        ebs["DeleteOnTermination"] = str(ebs.get("DeleteOnTermination", True)).lower() == "true"
        mappings.append({"DeviceName": item["DeviceName"], "Ebs": ebs})
    return mappings


def _tag(self: EC2Response, ami: Any, resource: str = "image") -> None:
    for kind, values in self._parse_tag_specification().items():
        if kind == resource:
            ami.add_tags(values)


def register_image(self: EC2Response) -> ActionResult:
    backend = self.ec2_backend
    name = self._get_param("Name")
    if any(ami.name == name for ami in backend.amis.values() if ami.owner_id == backend.account_id):
        raise fault("ec2", "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI")
    mappings = _mappings(backend, self._get_param("BlockDeviceMappings", []))
    boot_mode = self._get_param("BootMode")
    if self._get_param("Architecture", "x86_64") not in ("i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"):
        raise fault("ec2", "InvalidParameterValue", f"invalid architecture {self._get_param('Architecture')}")
    if self._get_param("TpmSupport") and boot_mode != "uefi":
        raise fault("ec2", "InvalidParameterCombination", "TpmSupport requires BootMode uefi")
    ami = backend.register_image(name, self._get_param("Description", ""))
    attributes = {
        "architecture": self._get_param("Architecture", "x86_64"),
        "root_device_name": self._get_param("RootDeviceName"),
        "boot_mode": boot_mode, "ena_support": str(self._get_param("EnaSupport", False)).lower() == "true",
        "sriov_net_support": self._get_param("SriovNetSupport"), "imds_support": self._get_param("ImdsSupport"),
        "tpm_support": self._get_param("TpmSupport"), "virtualization_type": self._get_param("VirtualizationType"),
    }
    adopt(backend, ami, mappings, attributes)
    _tag(self, ami)
    return ActionResult({"ImageId": ami.id})


def copy_image(self: EC2Response) -> ActionResult:
    """CopyImage, with TagSpecifications applied to the new AMI in the same call
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html)."""
    from moto.ec2.models import ec2_backends

    source_region = self._get_param("SourceRegion")
    source = ec2_backends[self.current_account][source_region].amis[self._get_param("SourceImageId")]
    backend = self.ec2_backend
    ami = backend.copy_image(source.id, source_region, self._get_param("Name"), self._get_param("Description"))
    if isinstance(source, RegisteredAmi):
        mappings = []
        for mapping in source.lk_mappings:
            volume = backend.create_volume(size=mapping["Ebs"]["VolumeSize"], zone_name=f"{backend.region_name}a")
            snapshot = backend.create_snapshot(volume.id, f"Copied for {ami.id} from {source_region}")
            behaviour.born(snapshot.id)
            mappings.append({"DeviceName": mapping["DeviceName"], "Ebs": {**mapping["Ebs"], "SnapshotId": snapshot.id}})
        adopt(backend, ami, mappings, {key: getattr(source, key, None) for key in _ATTRIBUTES})
    if str(self._get_param("CopyImageTags", False)).lower() == "true":
        ami.add_tags({tag["key"]: tag["value"] for tag in source.get_tags()})
    _tag(self, ami)
    return ActionResult({"ImageId": ami.id})


def create_launch_template_version(self: EC2Response) -> ActionResult:
    """As AWS: the new version starts from SourceVersion's data; UserData stays base64."""
    backend = self.ec2_backend
    template_id, name = self._get_param("LaunchTemplateId"), self._get_param("LaunchTemplateName")
    template = backend.get_launch_template(template_id) if template_id else backend.get_launch_template_by_name(name)
    data = dict(self._get_param("LaunchTemplateData", {}) or {})
    if "UserData" in data:
        data["UserData"] = parse_user_data(data["UserData"])
    if source := self._get_param("SourceVersion"):
        data = {**template.get_version(source).data, **data}
    version = template.create_version(data, self._get_param("VersionDescription"))
    return ActionResult({"LaunchTemplateVersion": {
        "CreateTime": version.create_time, "DefaultVersion": template.is_default(version),
        "LaunchTemplateData": version.data, "LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
        "VersionDescription": version.description, "VersionNumber": version.number}})


_original_create_launch_template = EC2Response.create_launch_template


def create_launch_template(self: EC2Response) -> ActionResult:
    """With ``launch_template_tokens``, a repeated ClientToken returns the first answer, even when
    that template has since been deleted (EC2 idempotency:
    https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html)."""
    token = self._get_param("ClientToken")
    answers = self.ec2_backend.__dict__.setdefault("lk_template_tokens", {})
    if token and behaviour.get("launch_template_tokens") and token in answers:
        return ActionResult(answers[token])
    result = _original_create_launch_template(self)
    if token:
        answers[token] = result.result
    return result


_original_zones = EC2Response.describe_availability_zones


def describe_availability_zones(self: EC2Response) -> ActionResult:
    """With ``local_zones``, an opted-in Local Zone is listed too (its ZoneType is local-zone), as in
    regions that have them (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAvailabilityZones.html)."""
    zones = self.ec2_backend.zones.setdefault(self.region, [])
    present = any(zone.name == LOCAL_ZONE for zone in zones)
    if behaviour.get("local_zones") and not present and self.region == "us-east-1":
        zones.append(Zone(region_name=self.region, name=LOCAL_ZONE, zone_id="use1-bos1-az1", zone_type="local-zone"))
    elif not behaviour.get("local_zones") and present:
        zones[:] = [zone for zone in zones if zone.name != LOCAL_ZONE]
    return _original_zones(self)


def _import_tasks(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, "lk_import_tasks"):
        backend.lk_import_tasks = {}
    return backend.lk_import_tasks  # type: ignore[no-any-return]


_original_create_role = IamResponse.create_role


def create_role(self: IamResponse) -> ActionResult:
    behaviour.born(f"role:{self._get_param('RoleName')}")
    return _original_create_role(self)


def _check_role(self: EC2Response, role: str) -> None:
    try:
        iam_backends[self.current_account]["global"].get_role(role)
        # A new role takes a while to be usable everywhere ("changes that you make are not always
        # immediately visible": https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html).
        missing = behaviour.age(f"role:{role}") < float(behaviour.get("iam_propagation"))
    except Exception:
        missing = True
    if missing:
        raise fault("ec2", "InvalidParameter", f"The service role {role} provided does not exist or does not have"
                                               " sufficient permissions")


def import_snapshot(self: EC2Response) -> ActionResult:
    # "If you retry a request with the same client token ... the result of the original request is
    # returned" (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a replayed
    # ImportSnapshot names the first task, even when the snapshot it made has since been deleted.
    token = self._get_param("ClientToken")
    tasks = _import_tasks(self.ec2_backend)
    for task in tasks.values():
        if token and task["token"] == token:
            return ActionResult(task["public"])
    _check_role(self, self._get_param("RoleName") or "vmimport")
    container = self._get_param("DiskContainer", {})
    bucket = container.get("UserBucket", {})
    task_id = f"import-snap-{len(tasks) + 1:017x}"
    public = {"ImportTaskId": task_id, "Description": self._get_param("Description", ""),
              "SnapshotTaskDetail": {"Status": "active", "Progress": "0", "Format": container.get("Format", "RAW"),
                                     "UserBucket": bucket, "StatusMessage": "pending"}}
    tasks[task_id] = {"token": token, "polls": IMPORT_POLLS, "public": public, "bucket": bucket}
    behaviour.born(task_id)
    return ActionResult(public)


def _finish_import(self: EC2Response, task: dict[str, Any]) -> None:
    bucket = task["bucket"]
    stored = s3_backends[self.current_account]["global"].get_object(bucket["S3Bucket"], bucket["S3Key"])
    assert stored is not None
    data = stored.value
    ebs = ebs_backends[self.current_account][self.region]
    snapshot = ebs.start_snapshot(volume_size=max(1, -(-len(data) // (1 << 30))), tags=None,
                                  description=f"Created by ImportSnapshot({task['public']['ImportTaskId']})")
    for offset in range(0, len(data), BLOCK_SIZE):
        block = data[offset:offset + BLOCK_SIZE].ljust(BLOCK_SIZE, b"\0")
        if block.count(0) != BLOCK_SIZE:
            snapshot.put_block(offset // BLOCK_SIZE, block, None, None, BLOCK_SIZE)
    snapshot.status = "completed"
    behaviour.born(snapshot.snapshot_id)
    detail = task["public"]["SnapshotTaskDetail"]
    detail.update(Status="completed", Progress="100", SnapshotId=snapshot.snapshot_id,
                  DiskImageSize=float(len(data)), StatusMessage="completed")


def describe_import_snapshot_tasks(self: EC2Response) -> ActionResult:
    tasks = _import_tasks(self.ec2_backend)
    wanted = self._get_param("ImportTaskIds", []) or list(tasks)
    result = []
    for task_id in wanted:
        if task_id not in tasks:
            raise fault("ec2", "InvalidConversionTaskId.Malformed", f"unknown import task {task_id}")
        if behaviour.hidden(task_id):
            continue  # not visible yet: the answer is an empty list
        task = tasks[task_id]
        if task["public"]["SnapshotTaskDetail"]["Status"] == "active":
            task["polls"] -= 1
            if task["polls"] < 0:
                _finish_import(self, task)
        result.append(task["public"])
    return ActionResult({"ImportSnapshotTasks": result})


def install() -> None:
    handlers = {
        "register_image": register_image,
        "copy_image": copy_image,
        "create_launch_template": create_launch_template,
        "create_launch_template_version": create_launch_template_version,
        "describe_availability_zones": describe_availability_zones,
        "import_snapshot": import_snapshot,
        "describe_import_snapshot_tasks": describe_import_snapshot_tasks,
    }
    for name, handler in handlers.items():
        setattr(EC2Response, name, handler)
    IamResponse.create_role = create_role  # type: ignore[method-assign]
