"""Settings: flag > LKCLOUD_* > the cloud's own variables > lkcloud.toml (found up the tree) >
user config > default; config files checked whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import ConfigError, UsageError
from lkcloud.platform import Arch, host_arch
from lkcloud.settings import Setting, Settings, config_files, key_lines, project_file, target_arch


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


def test_the_clouds_own_variables_come_after_lkcloud_ones(tmp_path: Path) -> None:
    region = Setting("aws.region", None, cloud_env=("AWS_REGION", "AWS_DEFAULT_REGION"))
    files = _files(tmp_path, '[aws]\nregion = "eu-west-1"\n', "")
    both = {"LKCLOUD_AWS_REGION": "eu-central-1", "AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-1"}
    assert Settings(files=files, env=both).explain(region).origin == "LKCLOUD_AWS_REGION"
    cloud = {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-1"}
    assert Settings(files=files, env=cloud).explain(region).value == "us-east-2"
    assert Settings(files=files, env={"AWS_DEFAULT_REGION": "us-west-1"}).explain(region).origin == "AWS_DEFAULT_REGION"
    found = Settings(files=files, env={}).explain(region)
    assert (found.value, found.source, found.origin) == ("eu-west-1", "file", f"{files[0]}:2")
    assert Settings(files=files, env=cloud).get(region, "ap-south-1") == "ap-south-1"


def test_the_project_file_is_found_in_a_parent(tmp_path: Path) -> None:
    (tmp_path / "lkcloud.toml").write_text('cache = "/srv/cache"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert project_file(deep) == tmp_path / "lkcloud.toml"
    assert config_files(deep)[0] == tmp_path / "lkcloud.toml"
    (tmp_path / "a" / "lkcloud.toml").write_text("")
    assert project_file(deep) == tmp_path / "a" / "lkcloud.toml"  # the nearest wins, as git's repository does


def test_unknown_keys_and_wrong_types_are_all_reported(tmp_path: Path) -> None:
    bad = tmp_path / "lkcloud.toml"
    bad.write_text('cahce = "/x"\n[aws]\nregoin = "eu-west-1"\nconcurrency = "many"\n[awz]\nbucket = "b"\n')
    with pytest.raises(ConfigError) as info:
        Settings(files=[bad], env={})
    assert info.value.problems == [
        f'{bad}:1: unknown key "cahce" (did you mean "cache"?)',
        f'{bad}:3: unknown key "aws.regoin" (did you mean "aws.region"?)',
        f"{bad}:4: aws.concurrency expects a whole number, got 'many'",
        f'{bad}:6: unknown key "awz.bucket" (did you mean "aws.bucket"?)',
    ]


def test_key_lines_follow_sections_and_dotted_keys() -> None:
    text = 'cache = "x"\n# note\n[aws]\nregion = "r"\n[ "gcp" ]\nzone="z"\nqemu.mem = 2\n'
    assert key_lines(text) == {"cache": 1, "aws.region": 4, "gcp.zone": 6, "gcp.qemu.mem": 7}


@pytest.mark.parametrize(("flag", "env", "expected"), [
    ("arm64", {"LKCLOUD_ARCH": "amd64"}, Arch.ARM64),
    (None, {"LKCLOUD_ARCH": "aarch64"}, Arch.ARM64),
    (None, {}, host_arch()),
])
def test_target_arch(flag: str | None, env: dict[str, str], expected: Arch) -> None:
    assert target_arch(flag, Settings(files=[], env=env)) == expected


def test_a_bad_arch_names_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^LKCLOUD_ARCH: unknown architecture 'mips'"):
        target_arch(None, Settings(files=[], env={"LKCLOUD_ARCH": "mips"}))
    config = tmp_path / "lkcloud.toml"
    config.write_text('arch = "mips"\n')
    with pytest.raises(UsageError, match=r"lkcloud\.toml:1: unknown architecture"):
        target_arch(None, Settings(files=[config], env={}))


def test_listing_covers_every_declared_setting() -> None:
    keys = [found.setting.key for found in Settings(files=[], env={}).listing()]
    assert keys == sorted(keys) and {"cache", "arch", "registry.mirrors", "aws.region", "qemu.mem"} <= set(keys)
