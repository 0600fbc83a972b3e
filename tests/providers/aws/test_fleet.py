"""Fleets: launch template + ASG with pinned versions; refresh to success, to rollback; run; prune."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.platform import Arch
from lkcloud.provider.prune import plan_prune
from lkcloud.provider.types import FleetSpec, RunRequest, UpdatePolicy
from lkcloud_aws.session import Aws
from tests.providers.aws.conftest import SMALL, Moto, provider, random_image

pytestmark = pytest.mark.emulator


def pushed(tmp_path: Path, name: str, seed: int) -> str:
    disk = random_image(tmp_path / f"{name}.raw", size=SMALL, blocks=2, seed=seed)
    return provider().push(dataclasses.replace(from_file(disk), image_name=name)).id


@pytest.fixture
def amis(aws_env: Moto, tmp_path: Path) -> tuple[str, str]:
    return pushed(tmp_path, "os-v1", 1), pushed(tmp_path, "os-v2", 2)


def test_fleet_lifecycle_and_refresh(aws: Aws, amis: tuple[str, str]) -> None:
    old, new = amis
    fleets = provider()
    status = fleets.fleet_create(FleetSpec("web", old, 4, user_data=b'{"app":{"content":"1"}}'))
    assert status.size == 4 and {i.image for i in status.instances} == {old}
    asg, ec2 = aws.client("autoscaling"), aws.client("ec2")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "1"
    (v1,) = ec2.describe_launch_template_versions(LaunchTemplateName="lkcloud-web")["LaunchTemplateVersions"]
    assert v1["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    assert base64.b64decode(v1["LaunchTemplateData"]["UserData"]) == b'{"app":{"content":"1"}}'

    result = fleets.fleet_refresh("web", new, b'{"app":{"content":"2"}}', UpdatePolicy(min_healthy_percent=50,
                                                                                         canary_percent=25,
                                                                                         pause_seconds=0))
    assert result.succeeded and result.old_image == old and result.new_image == new
    assert result.status is not None and {i.image for i in result.status.instances} == {new}
    assert {i.version for i in result.status.instances} == {"2"}
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "2", "pinned to the new version, never $Latest"
    (v2,) = ec2.describe_launch_template_versions(LaunchTemplateName="lkcloud-web",
                                                                Versions=["2"])["LaunchTemplateVersions"]
    assert base64.b64decode(v2["LaunchTemplateData"]["UserData"]) == b'{"app":{"content":"2"}}'
    assert v2["LaunchTemplateData"]["InstanceType"] == v1["LaunchTemplateData"]["InstanceType"]

    assert fleets.fleet_scale("web", 2).size == 2
    fleets.fleet_delete("web")
    with pytest.raises(UsageError, match="no fleet named 'web'"):
        fleets.fleet_status("web")


def test_failed_refresh_rolls_back(aws: Aws, amis: tuple[str, str]) -> None:
    old, bad = amis
    aws.client("ec2").create_tags(Resources=[bad], Tags=[{"Key": "lkcloud-test:unhealthy", "Value": "true"}])
    fleets = provider()
    fleets.fleet_create(FleetSpec("api", old, 2))
    result = fleets.fleet_refresh("api", bad, None, UpdatePolicy(min_healthy_percent=50))
    assert not result.succeeded and "RollbackSuccessful" in result.message
    assert result.status is not None and {i.image for i in result.status.instances} == {old}


def test_run_requires_imdsv2_and_passes_user_data(aws: Aws, amis: tuple[str, str]) -> None:
    result = provider().run(RunRequest(image="os-v1", count=2, user_data=b'{"k":{"content":"v"}}', console=True))
    assert len(result.instances) == 2 and result.console is not None
    reservations = aws.client("ec2").describe_instances(InstanceIds=[i.id for i in result.instances])["Reservations"]
    for raw in (i for r in reservations for i in r["Instances"]):
        assert raw["ImageId"] == amis[0] and raw["MetadataOptions"]["HttpTokens"] == "required"
        attribute = aws.client("ec2").describe_instance_attribute(InstanceId=raw["InstanceId"], Attribute="userData")
        assert base64.b64decode(attribute["UserData"]["Value"]) == b'{"k":{"content":"v"}}'
    with pytest.raises(UsageError, match="no AMI named 'nope'"):
        provider().run(RunRequest(image="nope"))


def test_prune_keeps_newest_and_in_use(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    images = []
    for seed in range(4):
        disk = random_image(tmp_path / f"os{seed}" / "os.raw", size=SMALL, blocks=1, seed=seed)
        images.append(provider().push(from_file(disk)).id)
    provider().fleet_create(FleetSpec("keep", images[0], 1))  # the oldest, but a fleet uses it
    listed = provider().images_list()
    assert {r.id for r in listed} == set(images) and {r.id for r in listed if r.in_use} == {images[0]}
    plan = plan_prune(listed, keep=1)
    removed = plan.remove
    assert images[0] not in {r.id for r in removed} and {r.id for r in plan.in_use} == {images[0]}
    assert len(removed) == 2
    for record in removed:
        provider().image_delete(record)
    left = aws.client("ec2").describe_images(Owners=["self"])["Images"]
    assert {i["ImageId"] for i in left} == set(images) - {r.id for r in removed}
    snapshots = {s["SnapshotId"] for s in aws.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    kept = {i["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] for i in left}
    assert snapshots == kept, "the removed AMIs' snapshots are deleted, the rest kept"


def test_example_script_refreshes_a_fleet(aws: Aws, amis: tuple[str, str], tmp_path: Path) -> None:
    old, _ = amis
    provider().fleet_create(FleetSpec("site", old, 2))
    disk = random_image(tmp_path / "next.raw", size=SMALL, blocks=2, seed=77, mbr=True)
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'providers'}"}
    done = subprocess.run([sys.executable, str(root / "examples" / "refresh_fleet.py"), "site", str(disk),
                           "--min-healthy", "50", "--canary", "50"], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Successful" in done.stdout
    status = provider().fleet_status("site")
    assert old not in {i.image for i in status.instances} and status.image != old


# -- AWS as it really behaves (tests/servers/moto_ext_behaviour.py switches each behaviour on) -------

def refresh_preferences(aws: Aws, name: str) -> dict[str, object]:
    found = aws.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
    return dict(found[0]["Preferences"])


def test_canary_refresh_waits_out_its_checkpoint(aws: Aws, aws_env: Moto, amis: tuple[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The refresh pauses InstanceWarmup after each batch and CheckpointDelay at the canary; our
    deadline counts them (a generic wait of 0.5 s would give up during the pause)."""
    old, new = amis
    aws_env.behave(checkpoints=True, warmup_scale=0.01)
    monkeypatch.setenv("LKCLOUD_AWS_WAIT_SECONDS", "0.5")
    provider().fleet_create(FleetSpec("canary", old, 4))
    policy = UpdatePolicy(min_healthy_percent=50, warmup_seconds=60, canary_percent=50, pause_seconds=2)
    result = provider().fleet_refresh("canary", new, None, policy)
    assert result.succeeded, result.message
    prefs = refresh_preferences(aws, "canary")
    assert prefs["CheckpointPercentages"] == [50, 100] and prefs["CheckpointDelay"] == 2


def test_canary_with_no_pause_does_not_pause_an_hour(aws: Aws, aws_env: Moto, amis: tuple[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = amis
    aws_env.behave(checkpoints=True)
    monkeypatch.setenv("LKCLOUD_AWS_REFRESH_MARGIN_SECONDS", "3")
    provider().fleet_create(FleetSpec("nopause", old, 2))
    result = provider().fleet_refresh("nopause", new, None, UpdatePolicy(min_healthy_percent=50, canary_percent=50,
                                                                         pause_seconds=0, warmup_seconds=0))
    assert result.succeeded, result.message
    assert refresh_preferences(aws, "nopause")["CheckpointDelay"] == 0


def test_a_fleet_or_refresh_not_yet_listed_is_waited_for(aws: Aws, aws_env: Moto, amis: tuple[str, str]) -> None:
    """Right after CreateAutoScalingGroup or StartInstanceRefresh, the Describe calls may list nothing."""
    old, new = amis
    aws_env.behave(describe_lag=1.0)
    assert provider().fleet_create(FleetSpec("lagging", old, 2)).size == 2
    result = provider().fleet_refresh("lagging", new, None, UpdatePolicy(min_healthy_percent=50))
    assert result.succeeded


def test_prune_deletes_the_snapshot_even_while_aws_says_in_use(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """DeleteSnapshot answers InvalidSnapshot.InUse for a while after DeregisterImage; the snapshot
    must not be left behind (and billed) for it. A snapshot another AMI maps is kept."""
    aws_env.behave(in_use_after_deregister=30.0)
    disk = from_file(random_image(tmp_path / "os.raw", size=SMALL, blocks=1, seed=41))
    one = provider().push(dataclasses.replace(disk, image_name="os-one"))
    two = provider().push(dataclasses.replace(disk, image_name="os-two"))  # same content: same snapshot
    records = {r.id: r for r in provider().images_list()}
    provider().image_delete(records[one.id])
    assert one.details["snapshot_id"] in {s["SnapshotId"] for s in all_snapshots(aws)}, "os-two still uses it"
    provider().image_delete(records[two.id])
    assert all_snapshots(aws) == []


def all_snapshots(aws: Aws) -> list[dict[str, object]]:
    return list(aws.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"])


def test_fleets_avoid_local_zones(aws: Aws, aws_env: Moto, amis: tuple[str, str]) -> None:
    """Local and Wavelength Zones have no default subnet: a fleet without --subnet uses only
    availability zones."""
    aws_env.behave(local_zones=True)
    provider().fleet_create(FleetSpec("zones", amis[0], 1))
    group = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["zones"])
    assert all(zone.count("-") == 2 for zone in group["AutoScalingGroups"][0]["AvailabilityZones"])


def test_delete_then_create_again_under_the_same_name(aws: Aws, aws_env: Moto, amis: tuple[str, str]) -> None:
    """fleet delete returns once the group is gone, and a new launch template is not a replay of
    the deleted one."""
    aws_env.behave(delete_seconds=1.0, launch_template_tokens=True)
    provider().fleet_create(FleetSpec("again", amis[0], 1))
    provider().fleet_delete("again")
    assert not aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["again"])[
        "AutoScalingGroups"]
    status = provider().fleet_create(FleetSpec("again", amis[0], 1))
    assert status.size == 1 and status.image == amis[0]


def test_the_instance_type_follows_the_architecture(aws: Aws, amis: tuple[str, str]) -> None:
    started = provider().run(RunRequest(image=amis[0], arch=Arch.ARM64))
    raw = aws.client("ec2").describe_instances(InstanceIds=[started.instances[0].id])["Reservations"][0]
    assert raw["Instances"][0]["InstanceType"] == "t4g.micro"
    provider().fleet_create(FleetSpec("graviton", amis[0], 1, arch=Arch.ARM64))
    (version,) = aws.client("ec2").describe_launch_template_versions(
        LaunchTemplateName="lkcloud-graviton")["LaunchTemplateVersions"]
    assert version["LaunchTemplateData"]["InstanceType"] == "t4g.micro"
