"""The azure commands end to end: `lkcloud push|run|fleet|images … azure` against Azurite and
the fake Resource Manager, and the errors a person sees."""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.disk import vhd as vhd_format
from lkcloud.process import run
from tests.conftest import ROOT
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _options() -> Iterator[None]:
    yield
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_push_run_fleet_images(azure_env: dict[str, str], container: str, vhd: Path, arm: FakeArm,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "azure", str(vhd), "--container", container, "--name", "cli-os",
                 "--hyper-v-generation", "V2", "--tag", "env=test"]) == 0
    assert "azure: /subscriptions/" in capsys.readouterr().out
    assert arm.recorded("PUT", r"/images/cli-os$")[0].body["properties"]["hyperVGeneration"] == "V2"

    assert main(["run", "azure", "--instance-type", "Standard_B2s", "--data", '{"a":{"content":"b"}}',
                 "--no-public-ip", "--name", "cli-vm"]) == 0
    assert "/virtualMachines/cli-vm\tSucceeded\t10.0.0." in capsys.readouterr().out
    vm = arm.recorded("PUT", r"/virtualMachines/cli-vm$")[0].body["properties"]
    assert base64.b64decode(vm["userData"]) == b'{"a":{"content":"b"}}'
    assert vm["storageProfile"]["imageReference"]["id"].endswith("/images/cli-os")  # the last push

    assert main(["fleet", "create", "azure", "pool", "--image", "cli-os", "--size", "2",
                 "--vm-size", "Standard_B1s"]) == 0
    assert "fleet pool (azure): Succeeded, 2/2 healthy" in capsys.readouterr().out
    assert main(["fleet", "refresh", "azure", "pool", "--data", '{"a":{"content":"c"}}', "--canary", "50",
                 "--pause", "5"]) == 0
    assert "rolling upgrade Completed" in capsys.readouterr().out
    patch = arm.recorded("PATCH", r"/virtualMachineScaleSets/pool$")[0].body["properties"]
    policy = patch["upgradePolicy"]["rollingUpgradePolicy"]
    assert (policy["maxBatchInstancePercent"], policy["pauseTimeBetweenBatches"]) == (50, "PT5S")
    assert main(["--json", "fleet", "status", "azure", "pool"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 2
    assert main(["fleet", "scale", "azure", "pool", "--size", "3"]) == 0
    capsys.readouterr()

    assert main(["--json", "images", "list", "azure"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["name"] == "cli-os" and record["in_use"] is True and record["family"] == "disk"
    assert main(["images", "prune", "azure", "--keep", "1"]) == 0
    assert main(["fleet", "delete", "azure", "pool", "--yes"]) == 0


def test_refresh_that_faults_exits_1(azure_env: dict[str, str], container: str, vhd: Path, *, tmp_path: Path,
                                     arm: FakeArm, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "azure", str(vhd), "--container", container]) == 0
    assert main(["fleet", "create", "azure", "pool"]) == 0  # the last push
    broken = make_vhd(tmp_path / "broken.vhd", 4, ((0, MIB),), seed=5)
    capsys.readouterr()
    assert main(["--json", "push", "azure", str(broken), "--container", container]) == 0
    broken_id = json.loads(capsys.readouterr().out)["id"]
    arm.app.broken.add(broken_id.lower())  # its instances never pass the probe
    assert main(["fleet", "refresh", "azure", "pool", "--image", broken_id, "--data", '{"a":{"content":"c"}}']) == 1
    out = capsys.readouterr().out
    assert "rolling upgrade Faulted" in out and "refresh FAILED (the old instances keep serving)" in out


@pytest.mark.parametrize(
    ("argv", "unset", "message"),
    [
        (["--resource-group", "nope"], (), "Resource group 'nope' could not be found"),
        ([], ("AZURE_ACCESS_TOKEN",), "no Azure credentials found"),
        ([], ("AZURE_SUBSCRIPTION_ID",), "no Azure subscription given"),
        ([], ("LKCLOUD_AZURE_RESOURCE_GROUP",), "no Azure resource group given"),
    ],
)
def test_clear_errors(azure_env: dict[str, str], container: str, vhd: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str], *, argv: list[str], unset: tuple[str, ...],
                      message: str) -> None:
    for key in unset:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(Path.cwd()))  # no Azure CLI or token cache to find credentials in
    code = main(["push", "azure", str(vhd), "--container", container, *argv])
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("lkcloud: error:")]) == 1


def test_bad_vhd_exits_2(azure_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.vhd"
    size = (3 << 20) + 512  # a VHD footer after a disk that is not a whole number of MiB
    bad.write_bytes(bytes(size) + vhd_format.footer_bytes(vhd_format.Footer(size=size, timestamp=0,
                                                                             uuid=uuid.UUID(int=1))))
    assert main(["push", "azure", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: {size + 512} bytes is not a whole number of MiB plus a 512-byte VHD footer" in err


def test_options_import_no_azure_sdk() -> None:
    code = ("import sys, lkcloud_azure.options, lkcloud.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))")
    assert run([sys.executable, "-c", code], cwd=ROOT).text.strip() == "[]"


def test_push_json_says_what_it_built_on(azure_env: dict[str, str], container: str, vhd: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def pushed(path: Path, *extra: str) -> dict[str, object]:
        assert main(["--json", "push", "azure", str(path), "--container", container, "--family", "web", *extra]) == 0
        return dict(json.loads(capsys.readouterr().out))

    first = pushed(vhd)
    changed = tmp_path / "changed.vhd"
    changed.write_bytes(vhd.read_bytes())
    with changed.open("r+b") as fh:
        fh.seek(1024)
        fh.write(b"\x04" * 512)
    second = pushed(changed)
    details = second["details"]
    assert isinstance(details, dict) and isinstance(first["details"], dict)
    assert second["parent"] == first["details"]["blob"] and details["upload"]["mode"] == "incremental"
    assert second["bytes_sent"] == 512 * 1024 < int(str(first["bytes_sent"]))
    again = tmp_path / "again.vhd"
    again.write_bytes(changed.read_bytes())
    with again.open("r+b") as fh:
        fh.seek(2048)
        fh.write(b"\x06" * 512)
    full = pushed(again, "--parent", "none")
    assert full["parent"] is None and full["bytes_sent"] == first["bytes_sent"]
