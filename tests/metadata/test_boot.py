"""Boots of examples/metadata.yml: user data from a cidata CD (``lkcloud run qemu --data-file``)
and from fake AWS, GCP and Azure metadata servers at the real address, 169.254.169.254."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli.main import main
from tests.metadata import guest
from tests.metadata.fake_metadata import AZURE_CONTAINER_ID, AZURE_INSTANCE_ID, FakeMetadata, Instance

pytestmark = [pytest.mark.slow, pytest.mark.boot]

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheMetadataBootTests test@lkcloud"
# Every cloud's fake answers the other clouds' probes with an error, as the real ones do; the
# cidata boot points them at a closed port on the host.
NO_CLOUD = " ".join(f"lkcloud.metadata.{c}=http://10.0.2.2:1" for c in ("aws", "gcp", "azure"))


def user_data(message: str) -> bytes:
    tree = {"greeting": {"entries": {"message": {"content": message}}},
            "secret": {"perm": "0700", "entries": {"token": {"perm": "0600", "content": "s3cret"}}}}
    return json.dumps(tree).encode()


def greeter_line(console: str) -> str:
    match = re.search(r"greeter: .*", console)
    assert match, f"the greeter printed nothing:\n{console[-3000:]}"
    return match.group(0)


def config_listing(console: str) -> str:
    match = re.search(r"metadata: done: .*", console)
    assert match, f"the metadata step did not finish:\n{console[-3000:]}"
    return match.group(0)


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeMetadata]:
    cloud, data = request.param
    server = FakeMetadata(cloud, Instance(hostname=f"{cloud}-vm-1", user_data=data, ssh_key=SSH_KEY))
    server.start()
    yield server
    server.stop()


def test_cidata_user_data_reaches_the_service(metadata_image: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "user-data.json"
    data.write_bytes(user_data("hello from the CD"))
    state = tmp_path / "vm"
    code = main(["--quiet", "run", "qemu", str(metadata_image), "--accel", "tcg", "--mem", "512",
                 "--state", str(state), "--data-file", str(data), "--cmdline", NO_CLOUD,
                 "--wait-for", "greeter: ", "--timeout", str(guest.BOOT_TIMEOUT)])
    console = (state / "console.log").read_text(errors="replace")
    assert code == 0, console[-3000:]
    assert "greeter: hello from the CD (provider CDROM /dev/sr0" in greeter_line(console)
    listing = config_listing(console)
    for entry in ("644 provider", "644 userdata", "755 greeting", "644 greeting/message",
                  "700 secret", "600 secret/token"):
        assert entry in listing


@pytest.mark.parametrize("fake", [("aws", user_data("hello from aws"))], indirect=True)
def test_aws_imdsv2(metadata_image: Path, fake: FakeMetadata, tmp_path: Path) -> None:
    tokenless = urllib.request.Request(f"http://127.0.0.1:{fake.port}/latest/meta-data/hostname")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tokenless, timeout=5)
    assert refused.value.code == 401
    console = guest.boot(metadata_image, tmp_path / "vm", fake.port)
    assert "greeter: hello from aws (provider AWS, hostname aws-vm-1)" in greeter_line(console)
    assert fake.answered("PUT", "/latest/api/token")
    assert fake.answered("GET", "/latest/user-data")
    guest_gets = [r for r in fake.requests if r.method == "GET" and r.headers.get("user-agent", "").startswith("curl/")]
    assert guest_gets and all(r.headers.get("x-aws-ec2-metadata-token") for r in guest_gets)
    listing = config_listing(console)
    for entry in ("644 hostname", "644 instance_id", "600 ssh/authorized_keys", "644 greeting/message"):
        assert entry in listing


@pytest.mark.parametrize("fake", [("gcp", user_data("hello from gcp"))], indirect=True)
def test_gcp_metadata_flavor(metadata_image: Path, fake: FakeMetadata, tmp_path: Path) -> None:
    flavorless = urllib.request.Request(f"http://127.0.0.1:{fake.port}/computeMetadata/v1/instance/hostname")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(flavorless, timeout=5)
    assert refused.value.code == 403
    console = guest.boot(metadata_image, tmp_path / "vm", fake.port)
    assert "metadata: aws: no IMDSv2 token" in console
    assert "greeter: hello from gcp (provider GCP, hostname gcp-vm-1)" in greeter_line(console)
    assert fake.answered("GET", "/computeMetadata/v1/instance/attributes/user-data")
    assert fake.answered("GET", "/computeMetadata/v1/project/attributes/ssh-keys")
    assert "600 ssh/authorized_keys" in config_listing(console)


@pytest.mark.parametrize("fake", [("azure", user_data("hello from azure"))], indirect=True)
def test_azure_imds_and_ready_report(metadata_image: Path, fake: FakeMetadata, tmp_path: Path) -> None:
    wireserver = f"lkcloud.metadata.wireserver=http://{guest.HOST_FROM_GUEST}:{fake.port}"
    # A busy IMDS and WireServer: the probe, the goal state and the Ready report (5 times) fail first.
    fake.failures = {"/metadata/instance/compute/name": [429], "/machine?comp=goalstate": [503],
                     "/machine?comp=health": [500, 503, 500, 503, 500]}
    console = guest.boot(metadata_image, tmp_path / "vm", fake.port, cmdline=wireserver)
    assert not any(fake.failures.values()), fake.failures
    assert "greeter: hello from azure (provider Azure, hostname azure-vm-1)" in greeter_line(console)
    user_data_reads = [r for r in fake.requests if "/compute/userData?" in r.path and r.status == 200]
    assert user_data_reads, "the guest never read compute/userData"
    reports = fake.answered("POST", "/machine?comp=health")
    assert len(reports) == 1, console[-3000:]
    report = reports[0]
    assert report.headers["content-type"] == "text/xml;charset=utf-8"
    assert report.headers["x-ms-version"] == "2012-11-30"
    health = ET.fromstring(report.body)
    assert health.findtext("GoalStateIncarnation") == "1"
    assert health.findtext("Container/ContainerId") == AZURE_CONTAINER_ID
    role = health.find("Container/RoleInstanceList/Role")
    assert role is not None
    assert role.findtext("InstanceId") == AZURE_INSTANCE_ID
    assert role.findtext("Health/State") == "Ready"
    assert "600 ssh/authorized_keys" in config_listing(console)


@pytest.mark.parametrize("fake", [("aws", b'{"greeting": {"entries": {"message": ')], indirect=True)
def test_malformed_user_data_is_logged_and_the_boot_goes_on(metadata_image: Path, fake: FakeMetadata,
                                                            tmp_path: Path) -> None:
    console = guest.boot(metadata_image, tmp_path / "vm", fake.port)
    assert re.search(r"metadata: user data is not JSON \(.+\): kept as /run/config/userdata only", console)
    assert "greeter: no greeting (provider AWS, hostname aws-vm-1)" in greeter_line(console)
    assert "644 userdata" in config_listing(console)
