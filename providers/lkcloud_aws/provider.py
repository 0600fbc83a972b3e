"""The AWS provider: push (EBS direct or S3 import, then an AMI), run, fleets, images."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import (
    Artifact,
    FleetSpec,
    FleetStatus,
    ImageRecord,
    PushResult,
    RefreshResult,
    RunRequest,
    RunResult,
    UpdatePolicy,
)
from lkcloud_aws import ebs_upload, fleet, image, instances, prune, s3_import
from lkcloud_aws.choices import Method
from lkcloud_aws.config import AwsOptions
from lkcloud_aws.image import ARCHES, BOOT_MODES, ImageResult, ImageSpec
from lkcloud_aws.session import Aws, wait_for


class AwsProvider:
    """lkcloud's provider interface on AWS (see :class:`lkcloud.providers.Provider`)."""

    name = "aws"
    image_format = "aws"

    def __init__(self, options: AwsOptions | None = None, session: Any = None) -> None:
        self.options = options or AwsOptions.resolve()
        self._session = session

    @cached_property
    def aws(self) -> Aws:
        return Aws(self.options.region, self.options.tuning, self._session)

    # -- push -----------------------------------------------------------------------------
    def image_spec(self, artifact: Artifact) -> ImageSpec:
        push = self.options.push
        arch = push.arch or ARCHES.get(artifact.arch)
        if arch is None:
            raise UsageError(f"unsupported architecture {artifact.arch!r}", hint="use --arch x86_64 or arm64")
        size = artifact.size or artifact.path.stat().st_size
        digest_hex = artifact.digest.removeprefix("sha256:")
        return ImageSpec(name=push.name or f"{artifact.name}-{digest_hex[:12]}", digest=artifact.digest,
                         family=artifact.name, arch=arch, boot_mode=push.boot_mode or BOOT_MODES[artifact.boot_mode],
                         volume_size=ebs_upload.volume_size(size), tpm=push.tpm, extra_tags=dict(push.tags))

    def _snapshot(self, artifact: Artifact, spec: ImageSpec, reporter: Reporter) -> tuple[str, bool, dict[str, Any]]:
        push = self.options.push
        if push.method is Method.IMPORT:
            imported = s3_import.import_snapshot(self.aws, artifact.path, artifact.digest, name=spec.family,
                                                 bucket=push.bucket, part_size=self.options.part_size,
                                                 create_role=push.create_role, reporter=reporter)
            return imported.snapshot_id, True, dataclasses.asdict(imported)
        uploaded = ebs_upload.upload(self.aws, artifact.path, artifact.digest, name=spec.family,
                                     journal_dir=self.options.journal_dir,
                                     timeout_minutes=self.options.snapshot_timeout,
                                     extra_tags=dict(push.tags), reporter=reporter)
        return uploaded.snapshot_id, not uploaded.reused, dataclasses.asdict(uploaded)

    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        """Upload ``artifact`` and register it as an AMI (reusing identical ones), then copy,
        share and publish it as the options say."""
        spec = self.image_spec(artifact)
        spec.check()
        self.aws.check_credentials()
        details: dict[str, Any] = {"method": str(self.options.push.method or Method.DIRECT), "digest": artifact.digest,
                                   "architecture": spec.arch.value, "boot_mode": spec.boot_mode.value}
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
        return PushResult("aws", spec.name, primary.image_id,
                          tuple((found.region, found.image_id) for found in everywhere),
                          reused=primary.reused, details=details)

    def _publish(self, images: list[ImageResult]) -> None:
        push = self.options.push
        for found in images:
            image.share(self.aws, found, public=push.public, accounts=push.share)
            if push.ssm_parameter:
                image.put_parameter(self.aws, push.ssm_parameter, found)

    # -- run ------------------------------------------------------------------------------
    def resolve_image(self, ref: str) -> str:
        """An AMI id from an id or an AMI name."""
        if ref.startswith("ami-"):
            return ref
        found = image.find_image(self.aws, ref)
        if found is None:
            raise UsageError(f"no AMI named {ref!r} in {self.aws.region}", hint="push it first: lkcloud push aws FILE")
        return str(found["ImageId"])

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult:
        placement = self.options.placement
        if request.instance_type:
            placement = dataclasses.replace(placement, instance_type=request.instance_type)
        image_id = self.resolve_image(request.image)
        reporter.step(f"starting {request.count} x {placement.instance_type} from {image_id}")
        started = instances.run(self.aws, image_id, placement, count=request.count, user_data=request.user_data,
                                name=request.name)
        console = None
        if request.console and started:
            console = wait_for(lambda: instances.console_output(self.aws, started[0].id), bool,
                               f"console output of {started[0].id}", self.aws.tuning)
        return RunResult("aws", tuple(started), console)

    # -- fleets ---------------------------------------------------------------------------
    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus:
        placement = self.options.placement
        if spec.instance_type:
            placement = dataclasses.replace(placement, instance_type=spec.instance_type)
        return fleet.create(self.aws, spec.name, self.resolve_image(spec.image), spec.size, placement=placement,
                            user_data=spec.user_data, reporter=reporter)

    def fleet_status(self, name: str) -> FleetStatus:
        return fleet.status(self.aws, name)

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
        return fleet.scale(self.aws, name, size)

    def fleet_refresh(self, name: str, image: str, user_data: bytes | None = None, policy: UpdatePolicy | None = None,
                      reporter: Reporter = NULL) -> RefreshResult:
        return fleet.refresh(self.aws, name, self.resolve_image(image), user_data=user_data, policy=policy,
                             reporter=reporter)

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        fleet.delete(self.aws, name, reporter)

    # -- images ---------------------------------------------------------------------------
    def images_list(self) -> list[ImageRecord]:
        return prune.list_images(self.aws)

    def images_prune(self, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]:
        return prune.prune(self.aws, keep, reporter, dry_run)
