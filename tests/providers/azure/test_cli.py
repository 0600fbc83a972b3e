"""The azure commands end to end: `lkcloud push|run|fleet|images … azure` against Azurite and
the fake Resource Manager, and the errors a person sees."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.process import run
from tests.conftest import ROOT
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
    assert "cli-os: /subscriptions/" in capsys.readouterr().out
    assert arm.recorded("PUT", r"/images/cli-os$")[0].body["properties"]["hyperVGeneration"] == "V2"

    assert main(["run", "azure", "--size", "Standard_B2s", "--data", '{"a":{"content":"b"}}', "--no-public-ip"]) == 0
    assert "/virtualMachines/cli-os\tSucceeded\t10.0.0." in capsys.readouterr().out
    vm = arm.recorded("PUT", r"/virtualMachines/cli-os$")[0].body["properties"]
    assert base64.b64decode(vm["userData"]) == b'{"a":{"content":"b"}}'

    assert main(["fleet", "create", "azure", "pool", "--image", "cli-os", "--size", "2",
                 "--vm-size", "Standard_B1s"]) == 0
    assert "pool: Succeeded, 2/2 instances" in capsys.readouterr().out
    assert main(["fleet", "refresh", "azure", "pool", "--data", '{"a":{"content":"c"}}', "--max-batch", "50",
                 "--pause", "5"]) == 0
    assert "rolling upgrade Completed" in capsys.readouterr().out
    patch = arm.recorded("PATCH", r"/virtualMachineScaleSets/pool$")[0].body["properties"]
    assert patch["upgradePolicy"]["rollingUpgradePolicy"]["pauseTimeBetweenBatches"] == "PT5S"
    assert main(["--json", "fleet", "status", "azure", "pool"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 2

    assert main(["--json", "images", "list", "azure"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["name"] == "cli-os" and record["in_use"] is True
    assert main(["images", "prune", "azure", "--keep", "0"]) == 0
    assert main(["fleet", "delete", "azure", "pool"]) == 0


def test_refresh_that_faults_exits_1(azure_env: dict[str, str], container: str, vhd: Path, arm: FakeArm,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "azure", str(vhd), "--container", container]) == 0
    assert main(["fleet", "create", "azure", "pool", "--image", "disk"]) == 0
    arm.fail_upgrades = True
    assert main(["fleet", "refresh", "azure", "pool", "--data", '{"a":{"content":"c"}}']) == 1
    assert "rolling upgrade Faulted" in capsys.readouterr().out


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
    bad.write_bytes(bytes(3 << 20))
    assert main(["push", "azure", str(bad)]) == 2
    assert f"{bad}: {3 << 20} bytes is not a whole number of MiB plus a 512-byte VHD footer" in capsys.readouterr().err


def test_cli_module_imports_no_azure_sdk() -> None:
    code = ("import sys, lkcloud_azure.cli, lkcloud.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))")
    assert run([sys.executable, "-c", code], cwd=ROOT).text.strip() == "[]"
