"""EC2 as AWS behaves where moto does not: RegisterImage keeps what it is given (mappings,
root device, BootMode, ENA, IMDS, TPM, tags) and rejects unknown snapshots and duplicate
names; registered snapshots are in use; CopyImage carries those attributes; ImportSnapshot
and DescribeImportSnapshotTasks exist (tasks stay active for a few polls, then produce a real
snapshot holding the S3 object's bytes)."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ebs.models import ebs_backends
from moto.ec2.models.amis import Ami
from moto.ec2.responses import EC2Response
from moto.ec2.utils import parse_user_data
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto_ext_errors import fault

BLOCK_SIZE = 524288
IMPORT_POLLS = 2  # an import task reports "active" this many times before it completes

_ATTRIBUTES = ("architecture", "root_device_name", "boot_mode", "ena_support", "sriov_net_support",
               "imds_support", "tpm_support", "virtualization_type")


class RegisteredAmi(Ami):
    """An AMI that reports the mappings and attributes it was registered with."""

    __module__ = "moto.ec2.lkcloud_test"  # moto's model registry keys classes by service
    lk_mappings: list[dict[str, Any]]

    @property
    def block_device_mappings(self) -> list[dict[str, Any]]:
        return self.lk_mappings


def _adopt(backend: Any, ami: Ami, mappings: list[dict[str, Any]], attributes: dict[str, Any]) -> RegisteredAmi:
    backend.snapshots.pop(ami.ebs_snapshot.id, None)  # moto's stand-in 15 GiB snapshot
    ami.__class__ = RegisteredAmi
    assert isinstance(ami, RegisteredAmi)
    ami.lk_mappings = mappings
    ami.root_device_type = "ebs"
    for key, value in attributes.items():
        setattr(ami, key, value)
    for mapping in mappings:
        backend.snapshots[mapping["Ebs"]["SnapshotId"]].from_ami = ami.id
    return ami


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
    _adopt(backend, ami, mappings, attributes)
    for values in self._parse_tag_specification().values():
        ami.add_tags(values)
    return ActionResult({"ImageId": ami.id})


def copy_image(self: EC2Response) -> ActionResult:
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
            mappings.append({"DeviceName": mapping["DeviceName"], "Ebs": {**mapping["Ebs"], "SnapshotId": snapshot.id}})
        _adopt(backend, ami, mappings, {key: getattr(source, key, None) for key in _ATTRIBUTES})
    if str(self._get_param("CopyImageTags", False)).lower() == "true":
        ami.add_tags({tag["key"]: tag["value"] for tag in source.get_tags()})
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


def _import_tasks(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, "lk_import_tasks"):
        backend.lk_import_tasks = {}
    return backend.lk_import_tasks  # type: ignore[no-any-return]


def import_snapshot(self: EC2Response) -> ActionResult:
    role = self._get_param("RoleName") or "vmimport"
    try:
        iam_backends[self.current_account]["global"].get_role(role)
    except Exception as exc:
        raise fault("ec2", "InvalidParameter", f"The service role {role} provided does not exist "
                               "or does not have sufficient permissions") from exc
    container = self._get_param("DiskContainer", {})
    bucket = container.get("UserBucket", {})
    token = self._get_param("ClientToken")
    tasks = _import_tasks(self.ec2_backend)
    for task in tasks.values():
        if token and task["token"] == token:
            return ActionResult(task["public"])
    task_id = f"import-snap-{len(tasks) + 1:017x}"
    public = {"ImportTaskId": task_id, "Description": self._get_param("Description", ""),
              "SnapshotTaskDetail": {"Status": "active", "Progress": "0", "Format": container.get("Format", "RAW"),
                                     "UserBucket": bucket, "StatusMessage": "pending"}}
    tasks[task_id] = {"token": token, "polls": IMPORT_POLLS, "public": public, "bucket": bucket}
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
        "create_launch_template_version": create_launch_template_version,
        "import_snapshot": import_snapshot,
        "describe_import_snapshot_tasks": describe_import_snapshot_tasks,
    }
    for name, handler in handlers.items():
        setattr(EC2Response, name, handler)
