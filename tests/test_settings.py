"""Settings precedence: flag > LKCLOUD_* environment > lkcloud.toml > user config > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import ConfigError
from lkcloud.settings import Setting, Settings


def _files(tmp_path: Path, here: str, home: str) -> list[Path]:
    a, b = tmp_path / "lkcloud.toml", tmp_path / "config.toml"
    a.write_text(here)
    b.write_text(home)
    return [a, b]


REGION = Setting("aws.region", "us-east-1")


def test_precedence(tmp_path: Path) -> None:
    files = _files(tmp_path, '[aws]\nregion = "eu-west-1"\n', '[aws]\nregion = "ap-south-1"\n')
    env = {"LKCLOUD_AWS_REGION": "eu-central-1"}
    assert Settings(files=files, env=env).resolve(REGION, "us-west-2") == ("us-west-2", "flag")
    assert Settings(files=files, env=env).resolve(REGION) == ("eu-central-1", "env")
    assert Settings(files=files, env={}).resolve(REGION) == ("eu-west-1", str(files[0]))
    assert Settings(files=files[1:], env={}).get(REGION) == "ap-south-1"
    assert Settings(files=[], env={}).resolve(REGION) == ("us-east-1", "default")


def test_env_coercion() -> None:
    count = Setting("fleet.size", 2)
    flag = Setting("aws.public", False)
    names = Setting("aws.copy-to", [])
    env = {"LKCLOUD_FLEET_SIZE": "5", "LKCLOUD_AWS_PUBLIC": "yes", "LKCLOUD_AWS_COPY_TO": "a, b"}
    settings = Settings(files=[], env=env)
    assert settings.get(count) == 5
    assert settings.get(flag) is True
    assert settings.get(names) == ["a", "b"]
    with pytest.raises(ConfigError):
        Settings(files=[], env={"LKCLOUD_FLEET_SIZE": "many"}).get(count)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "lkcloud.toml"
    bad.write_text("[aws\n")
    with pytest.raises(ConfigError, match=r"lkcloud\.toml"):
        Settings(files=[bad], env={})
