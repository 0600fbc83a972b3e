"""AMIs: register a snapshot, copy to other regions, share, and point an SSM parameter at it.

Idempotent by name and content: an AMI with the same name and the same ``lkcloud:digest`` tag is
reused; the same name with other content is an error, found before anything is uploaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud_aws import tags
from lkcloud_aws.choices import AwsArch, AwsBootMode
from lkcloud_aws.ebs_upload import delete_snapshot
from lkcloud_aws.errors import AwsError
from lkcloud_aws.session import Aws

ROOT_DEVICE = "/dev/xvda"
BROKEN = ("failed", "error", "invalid", "deregistered")  # AMI states that will never become available
_AMI_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")


@dataclass(frozen=True)
class ImageSpec:
    name: str
    digest: str
    family: str
    arch: AwsArch = AwsArch.X86_64
    boot_mode: AwsBootMode = AwsBootMode.UEFI_PREFERRED
    volume_size: int = 1  # GiB
    tpm: bool = False
    description: str = ""
    extra_tags: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> None:
        if not _AMI_NAME.fullmatch(self.name):
            raise UsageError(f"invalid AMI name {self.name!r}",
                             hint="3-128 characters: letters, digits and ( ) [ ] space . / - ' @ _")
        if self.arch is AwsArch.ARM64 and self.boot_mode is AwsBootMode.LEGACY_BIOS:
            raise UsageError("arm64 AMIs boot with UEFI only", hint="use --boot-mode uefi")
        if self.tpm and self.boot_mode is not AwsBootMode.UEFI:
            raise UsageError("--tpm needs --boot-mode uefi (NitroTPM is UEFI-only)")

    @property
    def tags(self) -> dict[str, str]:
        return tags.standard(self.digest, self.family, dict(self.extra_tags))


@dataclass(frozen=True)
class ImageResult:
    image_id: str
    region: str
    name: str
    snapshot_id: str | None = None
    reused: bool = False


def _snapshot_of(image: Mapping[str, Any]) -> str | None:
    for mapping in image.get("BlockDeviceMappings", []):
        if "Ebs" in mapping and mapping["Ebs"].get("SnapshotId"):
            return str(mapping["Ebs"]["SnapshotId"])
    return None


def find_image(aws: Aws, name: str, region: str | None = None) -> dict[str, Any] | None:
    found = aws.call(f"looking for AMI {name}", aws.client("ec2", region).describe_images, Owners=["self"],
                     Filters=[{"Name": "name", "Values": [name]}])["Images"]
    return dict(found[0]) if found else None


def existing(aws: Aws, spec: ImageSpec, region: str | None = None) -> ImageResult | None:
    """The AMI named ``spec.name`` if it holds the same content, once it is available (a push that
    was killed may have left it pending); None when there is none, or when it had failed (it is
    deregistered, to be registered again). UsageError if it holds other content."""
    image = find_image(aws, spec.name, region)
    if image is None:
        return None
    digest = tags.tag_dict(image.get("Tags")).get(tags.DIGEST)
    if digest != spec.digest:
        raise UsageError(
            f"AMI name {spec.name!r} is already used by {image['ImageId']} with other content"
            f" ({digest or 'not made by lkcloud'})",
            hint="push under another --name, or prune/deregister the old AMI first",
        )
    image_id = str(image["ImageId"])
    if image.get("State") in BROKEN:
        aws.call(f"deregistering {image['State']} AMI {image_id}", aws.client("ec2", region).deregister_image,
                 ImageId=image_id)
        return None
    if image.get("State") != "available":
        wait_available(aws, image_id, region)
    return ImageResult(image_id, region or aws.region, spec.name, _snapshot_of(image), reused=True)


def _register_call(aws: Aws, snapshot_id: str, spec: ImageSpec) -> str:
    ebs = {"SnapshotId": snapshot_id, "VolumeSize": spec.volume_size, "VolumeType": "gp3", "DeleteOnTermination": True}
    extra: dict[str, Any] = {"TpmSupport": "v2.0"} if spec.tpm else {}
    response = aws.call(f"registering AMI {spec.name}", aws.client("ec2").register_image, Name=spec.name,
                    Architecture=str(spec.arch),
                    Description=spec.description or f"lkcloud {spec.family} {spec.digest}"[:255],
                    RootDeviceName=ROOT_DEVICE, BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": ebs}],
                    VirtualizationType="hvm", EnaSupport=True, SriovNetSupport="simple",
                    BootMode=str(spec.boot_mode), ImdsSupport="v2.0",
                    TagSpecifications=tags.specs(["image"], spec.tags), **extra)
    return str(response["ImageId"])


def register(aws: Aws, snapshot_id: str, spec: ImageSpec, *, owned_snapshot: bool,
             reporter: Reporter = NULL) -> ImageResult:
    """Register ``snapshot_id`` as an AMI (or reuse an identical one); a failed registration
    deletes the snapshot when this push made it."""
    spec.check()
    found = existing(aws, spec)
    if found is not None:
        return found
    reporter.step(f"registering {spec.name} from {snapshot_id}")
    try:
        image_id = _register_call(aws, snapshot_id, spec)
    except ProviderError as exc:
        if isinstance(exc, AwsError) and exc.code == "InvalidAMIName.Duplicate" and (
                again := existing(aws, spec)) is not None:
            return again
        if owned_snapshot:
            delete_snapshot(aws, snapshot_id)
        raise
    wait_available(aws, image_id)
    return ImageResult(image_id, aws.region, spec.name, snapshot_id)


def _image_state(aws: Aws, image_id: str, region: str | None) -> dict[str, Any]:
    found = aws.call(f"describing AMI {image_id}", aws.client("ec2", region).describe_images,
                     fresh=("InvalidAMIID.NotFound",), ImageIds=[image_id])["Images"]
    return dict(found[0]) if found else {"ImageId": image_id, "State": "not visible yet"}


def _available(image: Mapping[str, Any]) -> bool:
    if image.get("State") in BROKEN:
        reason = image.get("StateReason", {}).get("Message", image.get("State"))
        raise ProviderError(f"AMI {image['ImageId']} is {image['State']}: {reason}")
    return image.get("State") == "available"


def wait_available(aws: Aws, image_id: str, region: str | None = None) -> None:
    aws.wait(f"AMI {image_id}", lambda: _image_state(aws, image_id, region), _available,
             progress=lambda image: image.get("State"))


def _copy_one(aws: Aws, source: ImageResult, spec: ImageSpec, region: str) -> ImageResult:
    found = existing(aws, spec, region)
    if found is not None:
        return found
    token = hashlib.sha256(f"{spec.digest}:{source.image_id}:{region}".encode()).hexdigest()[:64]
    # The tags go with CopyImage itself: a copy is never left untagged (and refused by later pushes).
    image_id = str(aws.call(f"copying {source.image_id} to {region}", aws.client("ec2", region).copy_image,
                            SourceRegion=source.region, SourceImageId=source.image_id, Name=spec.name,
                            ClientToken=token, TagSpecifications=tags.specs(["image"], spec.tags),
                            Description=spec.description or f"lkcloud {spec.family} {spec.digest}"[:255])["ImageId"])
    wait_available(aws, image_id, region)
    return ImageResult(image_id, region, spec.name, _snapshot_of(_image_state(aws, image_id, region)))


def copy_to(aws: Aws, source: ImageResult, spec: ImageSpec, regions: Sequence[str],
            reporter: Reporter = NULL) -> list[ImageResult]:
    """Copies of ``source`` in ``regions``, made in parallel (existing identical copies reused)."""
    wanted = [region for region in dict.fromkeys(regions) if region != source.region]
    if not wanted:
        return []
    reporter.step(f"copying {source.image_id} to {', '.join(wanted)}")
    with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
        return list(pool.map(lambda region: _copy_one(aws, source, spec, region), wanted))


def share(aws: Aws, image: ImageResult, *, public: bool = False, accounts: Sequence[str] = ()) -> None:
    """Launch permissions: everyone (``public``) and/or the given account ids."""
    grants: list[dict[str, str]] = [{"Group": "all"}] if public else []
    grants += [{"UserId": account} for account in accounts]
    if not grants:
        return
    try:
        aws.call(f"sharing {image.image_id}", aws.client("ec2", image.region).modify_image_attribute,
                 ImageId=image.image_id, LaunchPermission={"Add": grants})
    except ProviderError as exc:
        hint = "the account blocks public AMIs; see EC2 > Settings > AMI block public access" if public else None
        raise ProviderError(f"sharing {image.image_id} in {image.region} failed: {exc.message}", hint=hint) from exc


def put_parameter(aws: Aws, parameter: str, image: ImageResult) -> None:
    """An SSM parameter (data type aws:ec2:image) pointing at the AMI, read back: SSM validates
    such values after PutParameter has answered, and drops a value it finds invalid."""
    ssm = aws.client("ssm", image.region)
    aws.call(f"pointing {parameter} at {image.image_id}", ssm.put_parameter, Name=parameter, Value=image.image_id,
             Type="String", DataType="aws:ec2:image", Overwrite=True)

    def value() -> str | None:
        try:
            return str(aws.call(f"reading {parameter}", ssm.get_parameter, Name=parameter)["Parameter"]["Value"])
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                return None
            raise

    aws.wait(f"SSM to store {image.image_id} in {parameter}", value, lambda found: found == image.image_id,
             timeout=aws.tuning.not_found, hint="SSM validates aws:ec2:image values after PutParameter and drops"
             " invalid ones: check that the AMI is available in that region")


__all__ = ["ImageResult", "ImageSpec", "copy_to", "existing", "find_image", "put_parameter", "register", "share",
           "wait_available"]
