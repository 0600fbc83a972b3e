"""fleet.yml: loading, validation errors with file:line:key, provider defaults, CLI routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.cli.main import main
from lkcloud.errors import ConfigError
from lkcloud.fleet.defaults import load_defaults
from lkcloud.fleet.file import load
from lkcloud.platform import Arch
from lkcloud.provider.registry import PROVIDERS
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yml"
    path.write_text(text)
    (tmp_path / "worker.yml").write_text("kernel: {image: lkcloud/kernel:dev}\n")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


def test_example_fleet_file_loads() -> None:
    fleet = load(ROOT / "examples" / "fleet.yml")
    assert (fleet.name, fleet.provider, fleet.size, fleet.builds) == ("faas-demo", "qemu", 2, True)
    template, release = ROOT / "templates" / "faas-worker.yml", ROOT / "examples" / "functions" / "worker.yml"
    assert fleet.image == (str(template), str(release))
    assert fleet.packages == (ROOT / "examples" / "functions" / "hello",)
    assert json.loads(fleet.user_data or b"")["functions"]["entries"]["echo"]["content"].endswith("cat\n")
    assert fleet.update.max_surge == 1 and fleet.update.min_healthy_percent == 100


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, "provider: aws\nimage: worker.yml\nsize: 3\nupdate: {pause_seconds: 5}\n"))
    assert fleet.name == "fleet" and fleet.instance_type == "t3.micro"
    assert (fleet.update.min_healthy_percent, fleet.update.warmup_seconds, fleet.update.pause_seconds) == (90, 60, 5)


def test_unknown_keys_are_named_with_their_line(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "provider: qemu\nimage: worker.yml\nsize: 1\ncolour: blue\nupdate:\n  speed: 3\n"))
    assert found[0] == f"{tmp_path / 'fleet.yml'}:4: colour: unknown key"
    assert found[1] == f"{tmp_path / 'fleet.yml'}:6: update.speed: unknown key"
    found = problems(write(tmp_path, "provider: qemu\nimage: worker.yml\nsize: 1\nupdate: {max_surg: 3}\n"))
    assert found == [f'{tmp_path / "fleet.yml"}:4: update.max_surg: unknown key (did you mean "max_surge"?)']


def test_missing_provider(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "image: worker.yml\nsize: 1\n")) == [
        f'{tmp_path / "fleet.yml"}:1: missing required key "provider"']


def test_unknown_provider(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "provider: mars\nimage: worker.yml\nsize: 1\n"))
    assert found == [f'{tmp_path / "fleet.yml"}:1: provider: expected "qemu" or "aws" or "gcp" or "azure",'
                     ' got a string "mars"']


@pytest.mark.parametrize("size", ["-1", "two", "1.5", "true", "5000"])
def test_bad_size(tmp_path: Path, size: str) -> None:
    found = problems(write(tmp_path, f"provider: qemu\nimage: worker.yml\nsize: {size}\n"))
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'fleet.yml'}:3: size: expected a whole number from 0")


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = "provider: qemu\nimage: missing.yml\nsize: 0\nuser_data: {a: {perm: '0644'}}\nupdate: {max_surge: x}\n"
    found = problems(write(tmp_path, text))
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in found] == ["2", "4", "5"]
    assert "missing.yml: no such file" in found[0] and "user_data" in found[1] and "update.max_surge" in found[2]


def test_user_data_inline_and_file_are_exclusive(tmp_path: Path) -> None:
    (tmp_path / "ud.json").write_text("{}")
    text = "provider: qemu\nimage: worker.yml\nsize: 1\nuser_data: {}\nuser_data_file: ud.json\n"
    found = problems(write(tmp_path, text))
    assert found == [f"{tmp_path / 'fleet.yml'}:5: user_data_file: give user_data or user_data_file, not both"]


def test_provider_defaults_are_data() -> None:
    found = load_defaults(ROOT / "templates" / "fleets.yml")
    assert set(found) == set(PROVIDERS)
    assert found["qemu"].health.path == "/healthz" and found["qemu"].health.port == 8080
    assert found["gcp"].instance_type(Arch.AMD64) == "e2-small" and found["azure"].update.min_healthy_percent == 80


def test_missing_local_files_are_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "provider: qemu\nimage: missing.yml\nsize: 1\npackages: [nowhere]\n"))
    assert found[0].startswith(f"{tmp_path / 'fleet.yml'}:2: image: missing.yml: no such file")
    assert found[1].startswith(f"{tmp_path / 'fleet.yml'}:4: packages[0]: nowhere: no such file")


def test_a_linuxkit_config_is_not_a_fleet_file(tmp_path: Path) -> None:
    path = tmp_path / "worker.yml"
    path.write_text("kernel: {image: lkcloud/kernel:dev}\nservices: []\n")
    found = problems(path)
    assert found == [f"{path}: this is a LinuxKit config, not a fleet file"]


def test_arch_picks_the_instance_type(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, "provider: aws\nimage: worker.yml\nsize: 1\narch: aarch64\n"))
    assert fleet.arch is Arch.ARM64 and fleet.instance_type == "t4g.micro"


def test_cli_routes_a_fleet_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LKCLOUD_QEMU_STATE", str(tmp_path / "state"))
    path = write(tmp_path, "name: nofleet\nprovider: qemu\nimage: worker.yml\nsize: 1\n")
    assert main(["fleet", "status", str(path)]) == 2
    assert "no local fleet named 'nofleet'" in capsys.readouterr().err
    assert main(["fleet", "status", "qemu", "nofleet"]) == 2


def test_cli_reports_a_bad_fleet_file_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "image: worker.yml\nsize: -2\n")
    assert main(["fleet", "refresh", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: size:" in err and f'{path}:1: missing required key "provider"' in err
    assert "Traceback" not in err
