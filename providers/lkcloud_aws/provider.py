"""The AWS provider: push (EBS direct or S3 import, then an AMI), run, fleets, images."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import types as pt
from lkcloud.settings import Settings
from lkcloud_aws import config, ebs_upload, fleet, image, images, instances, lineage, s3_import
from lkcloud_aws.choices import ARCHES, BOOT_MODES, Method
from lkcloud_aws.config import AwsOptions
from lkcloud_aws.image import ImageResult, ImageSpec
from lkcloud_aws.session import Aws


class AwsProvider:
    """lkcloud's provider interface on AWS (see :class:`lkcloud.provider.interface.Provider`)."""

    name: ClassVar[str] = "aws"
    image_format = "aws"

    def __init__(self, options: AwsOptions | None = None, aws: Aws | None = None) -> None:
        self.options = options or AwsOptions()
        self.aws = aws or Aws(self.options.region, self.options.tuning, profile=self.options.profile)
        self._told = False

    def _contact(self, reporter: Reporter) -> None:
        """Say once where AWS is being reached (a silent endpoint then has a name on the screen)."""
        if not self._told:
            self._told = True
            reporter.step(f"contacting AWS in {self.aws.region} at {self.aws.endpoint()}")

    @classmethod
    def from_settings(cls, settings: Settings, **flags: Any) -> AwsProvider:
        options = config.resolve(settings, **flags)
        provider = cls(options)
        provider.aws.check_credentials()
        return provider

    # -- push -----------------------------------------------------------------------------
    def image_spec(self, artifact: pt.Artifact) -> ImageSpec:
        size = artifact.size or artifact.path.stat().st_size
        digest_hex = artifact.digest.removeprefix("sha256:")
        return ImageSpec(name=artifact.image_name or f"{artifact.name}-{digest_hex[:12]}", digest=artifact.digest,
                         family=artifact.name, arch=ARCHES[artifact.arch], boot_mode=BOOT_MODES[artifact.boot_mode],
                         volume_size=ebs_upload.volume_size(size), tpm=self.options.push.tpm,
                         extra_tags=dict(self.options.push.tags))

    def _snapshot(self, artifact: pt.Artifact, spec: ImageSpec, reporter: Reporter) -> tuple[str, bool, dict[str, Any]]:
        push = self.options.push
        if push.method is Method.IMPORT:
            imported = s3_import.import_snapshot(self.aws, artifact.path, artifact.digest, name=spec.family,
                                                 bucket=push.bucket, part_size=self.options.part_size,
                                                 create_role=push.create_role, reporter=reporter)
            return imported.snapshot_id, True, dataclasses.asdict(imported)
        uploaded = ebs_upload.upload(self.aws, artifact.path, artifact.digest, name=spec.family,
                                     journal_dir=self.options.journal_dir,
                                     timeout_minutes=self.options.snapshot_timeout, extra_tags=dict(push.tags),
                                     how=ebs_upload.Lineage(push.parent, push.read_parent), reporter=reporter)
        return uploaded.snapshot_id, not uploaded.reused, dataclasses.asdict(uploaded)

    def push(self, artifact: pt.Artifact, reporter: Reporter = NULL) -> pt.PushResult:
        """Upload ``artifact`` and register it as an AMI (reusing identical ones), then copy,
        share and publish it as the options say."""
        spec = self.image_spec(artifact)
        spec.check()
        self._contact(reporter)
        details: dict[str, Any] = {"method": str(self.options.push.method), "architecture": spec.arch.value,
                                   "boot_mode": spec.boot_mode.value}
        primary = image.existing(self.aws, spec)
        if primary is not None:
            reporter.step(f"{spec.name} is already registered as {primary.image_id}")
        else:
            snapshot_id, owned, details["upload"] = self._snapshot(artifact, spec, reporter)
            primary = image.register(self.aws, snapshot_id, spec, owned_snapshot=owned, reporter=reporter)
        everywhere = [primary, *image.copy_to(self.aws, primary, spec, self.options.push.copy_to, reporter)]
        self._publish(everywhere)
        details["snapshot_id"] = primary.snapshot_id
        details["images"] = [dataclasses.asdict(found) for found in everywhere]
        upload = details.get("upload", {})
        sent = int(upload.get("bytes_sent", 0))
        return pt.PushResult("aws", primary.image_id, spec.name, family=spec.family, digest=artifact.digest,
                             arch=str(artifact.arch), locations=tuple((f.region, f.image_id) for f in everywhere),
                             reused=primary.reused, bytes_sent=sent,
                             bytes_skipped=0 if primary.reused else max(0, artifact.size - sent),
                             parent=upload.get("parent"), scope={"region": self.aws.region}, details=details)

    def _publish(self, found: list[ImageResult]) -> None:
        push = self.options.push
        for one in found:
            image.share(self.aws, one, public=push.public, accounts=push.share)
            if push.ssm_parameter:
                image.put_parameter(self.aws, push.ssm_parameter, one)

    # -- run ------------------------------------------------------------------------------
    def resolve_image(self, ref: str) -> str:
        """An AMI id from an id or an AMI name."""
        if ref.startswith("ami-"):
            return ref
        found = image.find_image(self.aws, ref)
        if found is None:
            raise UsageError(f"no AMI named {ref!r} in {self.aws.region}", hint="push it first: lkcloud push aws FILE")
        return str(found["ImageId"])

    def run(self, request: pt.RunRequest, reporter: Reporter = NULL) -> pt.RunResult:
        placement = self.options.placement
        kind = instances.instance_type(placement, request.instance_type, request.arch)
        self._contact(reporter)
        image_id = self.resolve_image(request.image)
        reporter.step(f"starting {request.count} x {kind} from {image_id} in {self.aws.region}")
        started = instances.run(self.aws, image_id, placement, kind, count=request.count,
                                user_data=request.user_data, name=request.name)
        console = None
        if request.console and started:
            first = started[0].id
            console = self.aws.wait(f"console output of {first}", lambda: instances.console_output(self.aws, first),
                                    bool)
        return pt.RunResult("aws", tuple(started), console)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: pt.FleetSpec, reporter: Reporter = NULL) -> pt.FleetStatus:
        placement = self.options.placement
        kind = instances.instance_type(placement, spec.instance_type, spec.arch)
        self._contact(reporter)
        return fleet.create(self.aws, spec.name, self.resolve_image(spec.image), spec.size, placement=placement,
                            kind=kind, user_data=spec.user_data, reporter=reporter)

    def fleet_status(self, name: str) -> pt.FleetStatus:
        return fleet.status(self.aws, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> pt.FleetStatus:
        return fleet.scale(self.aws, name, size)

    def fleet_refresh(self, name: str, image: str | None, user_data: bytes | None, policy: pt.UpdatePolicy,
                      reporter: Reporter = NULL) -> pt.RefreshResult:
        self._contact(reporter)
        resolved = self.resolve_image(image) if image else None
        return fleet.refresh(self.aws, name, resolved, user_data=user_data, policy=policy, reporter=reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        self._contact(reporter)
        fleet.delete(self.aws, name, reporter)

    # -- images ---------------------------------------------------------------------------
    def images_list(self) -> list[pt.ImageRecord]:
        return images.list_images(self.aws)

    def image_delete(self, record: pt.ImageRecord, reporter: Reporter = NULL) -> None:
        store = lineage.manifests(self.options.journal_dir)
        for snapshot_id in images.delete(self.aws, record, reporter):
            store.remove(snapshot_id)
