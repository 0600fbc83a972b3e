"""The org.mobyproject.config label: YAML or JSON per-image settings, validated as a service."""

from __future__ import annotations

import json

import pytest

from lkcloud.errors import ConfigError
from lkcloud.spec.label import parse_label_config
from lkcloud.spec.model import ImageConfig

SOURCE = "docker.io/linuxkit/sshd:abc"


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_label_config(text, SOURCE)
    return info.value.problems


def test_json_label() -> None:
    label = {
        "capabilities": ["CAP_SYS_ADMIN"],
        "binds": ["/run:/run"],
        "net": "host",
        "readonly": True,
        "runtime": {"mkdir": ["/var/lib/x"]},
        "uid": 5,
    }
    config = parse_label_config(json.dumps(label), SOURCE)
    assert config.capabilities == ("CAP_SYS_ADMIN",)
    assert config.binds == ("/run:/run",)
    assert config.net == "host" and config.readonly is True and config.uid == 5
    assert config.runtime is not None and config.runtime.mkdir == ("/var/lib/x",)
    assert config.command is None


def test_yaml_label() -> None:
    config = parse_label_config("pid: host\ncommand: [/bin/sh]\n", SOURCE)
    assert config == ImageConfig(pid="host", command=("/bin/sh",))


def test_json_with_tabs_is_read() -> None:
    assert parse_label_config('{\t"net":\t"host"}', SOURCE).net == "host"


def test_errors_name_the_image() -> None:
    problems = _problems('{"capabilities": ["CAP_FOO"], "net": 5}')
    assert problems == [
        f'{SOURCE} (label org.mobyproject.config):1: capabilities[0]: unknown capability "CAP_FOO"',
        f"{SOURCE} (label org.mobyproject.config):1: net: expected a string, got an integer (5)",
    ]


def test_name_and_image_are_not_allowed() -> None:
    problems = _problems('{"name": "x", "image": "y"}')
    assert problems == [
        f"{SOURCE} (label org.mobyproject.config):1: name: cannot be set in an image label",
        f"{SOURCE} (label org.mobyproject.config):1: image: cannot be set in an image label",
    ]


@pytest.mark.parametrize("text", ["[]", '"x"', "", "{bad: [}"])
def test_not_a_mapping(text: str) -> None:
    problems = _problems(text)
    assert problems and problems[0].startswith(f"{SOURCE} (label org.mobyproject.config)")


def test_unknown_key() -> None:
    assert _problems("capabilitys: []\n") == [
        f'{SOURCE} (label org.mobyproject.config):1: capabilitys: unknown key (did you mean "capabilities"?)'
    ]
