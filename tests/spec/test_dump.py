"""config_to_dict: LinuxKit key names, normalised references, and a lossless round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lkcloud.spec.dump import config_to_dict
from lkcloud.spec.load import load_files, load_text
from tests.spec.samples import FULL, MINIMAL


def _round_trip(data: dict[str, object]) -> dict[str, object]:
    return config_to_dict(load_text(yaml.safe_dump(data, sort_keys=False), "dumped.yml"))


def test_key_names_and_order() -> None:
    data = config_to_dict(load_text(FULL, "full.yml"))
    assert list(data) == ["kernel", "init", "onboot", "onshutdown", "services", "files", "volumes"]
    getty = data["services"][0]
    assert list(getty)[:2] == ["name", "image"]
    assert {"binds.add", "additionalGids", "uidMappings", "runtime", "resources"} <= set(getty)
    assert getty["runtime"]["bindNS"] == {"net": "/run/netns/getty", "uts": "/run/uts"}
    assert getty["mounts"][2]["uidmappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert data["onboot"][0]["capabilities.add"] == ["CAP_BPF"]
    assert "net" not in getty  # unset fields are left out
    motd = next(f for f in data["files"] if f["path"] == "etc/motd")
    assert motd["mode"] == "0644"
    json.dumps(data)  # plain JSON values only


def test_references_are_normalised() -> None:
    pytest.importorskip("lkcloud.oci.reference")
    data = config_to_dict(load_text(MINIMAL, "t.yml"))
    assert data["kernel"]["image"] == "docker.io/linuxkit/kernel:6.12.59"
    assert data["services"][0]["image"].startswith("docker.io/linuxkit/getty:")


def test_round_trip_full() -> None:
    data = config_to_dict(load_text(FULL, "full.yml"))
    assert _round_trip(data) == data


def test_round_trip_corpus(compat_dir: Path) -> None:
    for path in sorted(compat_dir.glob("*.yml")):
        if path.name in ("static-ip.yml", "containerd-debug.yml"):  # invalid YAML; a source not in the corpus
            continue
        data = config_to_dict(load_files([path]))
        assert _round_trip(data) == data, path.name
