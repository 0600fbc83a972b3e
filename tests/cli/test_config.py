"""``lkcloud config list``: every setting, its value, and where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Runner


def _rows(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3:
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def test_values_and_their_sources(cli: Runner, workspace: Path) -> None:
    (workspace / "lkcloud.toml").write_text('# project settings\n[qemu]\nmem = 2048\n[aws]\nregion = "eu-west-1"\n')
    found = cli("config", "list", env={"LKCLOUD_QEMU_CPUS": "4"})
    assert found.code == 0, found.err
    rows = _rows(found.out)
    assert rows["qemu.mem"] == ("2048", f"{workspace / 'lkcloud.toml'}:3")
    assert rows["aws.region"] == ("eu-west-1", f"{workspace / 'lkcloud.toml'}:5")
    assert rows["qemu.cpus"] == ("4", "LKCLOUD_QEMU_CPUS")
    assert rows["cache"] == (str(workspace / "cache"), "LKCLOUD_CACHE")
    assert rows["qemu.accel"] == ("auto", "default")


def test_the_project_file_of_a_parent_directory(cli: Runner, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "lkcloud.toml").write_text('[gcp]\nzone = "europe-west1-b"\n')
    deep = workspace / "src" / "deep"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert _rows(cli("config", "list").out)["gcp.zone"] == ("europe-west1-b", f"{workspace / 'lkcloud.toml'}:2")


def test_json_names_files_and_sources(cli: Runner, workspace: Path) -> None:
    found = cli("config", "list", "--json")
    document = json.loads(found.out)
    assert document["files"][0] == {"path": str(workspace / "lkcloud.toml"), "exists": False}
    cache = next(item for item in document["settings"] if item["key"] == "cache")
    assert cache["source"] == "env" and cache["origin"] == "LKCLOUD_CACHE" and cache["env"] == "LKCLOUD_CACHE"


def test_quiet_lists_the_keys(cli: Runner) -> None:
    keys = cli("config", "list", "-q").out.split()
    assert "cache" in keys and "aws.region" in keys


def test_every_bad_value_is_named(cli: Runner) -> None:
    found = cli("config", "list", env={"LKCLOUD_QEMU_MEM": "lots", "LKCLOUD_AWS_CONCURRENCY": "many"})
    assert found.code == 2
    assert [line for line in found.err.splitlines() if line.startswith("lkcloud: error:")] == [
        "lkcloud: error: LKCLOUD_AWS_CONCURRENCY=many: aws.concurrency expects a whole number, got 'many'",
        "lkcloud: error: LKCLOUD_QEMU_MEM=lots: qemu.mem expects a whole number, got 'lots'",
    ]
