"""A config's ``files: source:`` reaching into the host (issue 17, item 4; issue 18: validate checks them).

A LinuxKit YAML often comes from a cloned repository; what its ``source:`` names is copied into
an image that may be published. ``source: /proc/self/environ`` once put the builder's
``AWS_SECRET_ACCESS_KEY`` into the image.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from lkcloud.build import BuildOptions, build
from lkcloud.cli.main import main
from lkcloud.errors import ConfigError
from lkcloud.spec.load import load_files


def _config(directory: Path, source: str, optional: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "image.yml"
    extra = "    optional: true\n" if optional else ""
    path.write_text(f"files:\n  - path: etc/copied\n    source: {source}\n{extra}")
    return path


def _build(config: Path, tmp_path: Path) -> bytes:
    out = build(BuildOptions(files=(config,), formats=("tar",), outdir=tmp_path / "out", cache=tmp_path / "cache"))
    with tarfile.open(out.outputs["tar"][0]) as tar:
        return tar.extractfile("etc/copied").read()  # type: ignore[union-attr]


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LKCLOUD_ALLOW_HOST_FILES", raising=False)


def test_proc_self_environ_does_not_reach_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    config = _config(tmp_path / "repo", "/proc/self/environ")
    with pytest.raises(ConfigError) as info:
        build(BuildOptions(files=(config,), formats=("tar",), outdir=tmp_path / "out", cache=tmp_path / "cache"))
    problem = info.value.problems[0]
    assert problem.startswith(f"{config}:2: files[0].source: source \"/proc/self/environ\"")
    assert "is under /proc" in problem and "LKCLOUD_ALLOW_HOST_FILES=1" in problem
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["../outside/secret", "/etc/hostname"])
def test_files_outside_the_configs_directory_are_refused(tmp_path: Path, source: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    config = _config(tmp_path / "repo", source)
    with pytest.raises(ConfigError, match=r"is outside the config's directory .*/repo \(LKCLOUD_ALLOW_HOST_FILES=1"):
        load_files([config])


def test_a_symlink_in_the_repository_cannot_point_outside(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "credentials").write_text("[default]\naws_secret_access_key = x\n")
    config = _config(tmp_path / "repo", "key")
    (tmp_path / "repo" / "key").symlink_to(tmp_path / "home" / "credentials")
    with pytest.raises(ConfigError, match=r'source "key" -> .*/home/credentials is outside'):
        load_files([config])


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "subdir"])
def test_what_is_not_a_regular_file_is_refused_even_when_allowed(tmp_path: Path, source: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LKCLOUD_ALLOW_HOST_FILES", "1")
    config = _config(tmp_path / "repo", source)
    os.mkfifo(tmp_path / "repo" / "fifo")
    (tmp_path / "repo" / "subdir").mkdir()
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_files([config])


def test_relative_sources_are_read_beside_the_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path / "repo", "conf/app.toml")
    (tmp_path / "repo" / "conf").mkdir()
    (tmp_path / "repo" / "conf" / "app.toml").write_text("from the repository\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "conf").mkdir(parents=True)
    (elsewhere / "conf" / "app.toml").write_text("from the working directory\n")
    monkeypatch.chdir(elsewhere)
    assert _build(config, tmp_path) == b"from the repository\n"


def test_a_missing_source_names_the_line_and_what_it_is_relative_to(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path / "repo", "missing.toml")
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lkcloud: error: {config}:2: files[0].source: cannot read source \"missing.toml\"")
    assert f"(relative to the config's directory {tmp_path / 'repo'}): no such file" in err


def test_public_keys_are_allowed_private_keys_are_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAA me\n")
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    monkeypatch.setenv("HOME", str(home))
    assert _build(_config(tmp_path / "repo", "~/.ssh/id_ed25519.pub"), tmp_path) == b"ssh-ed25519 AAAA me\n"
    with pytest.raises(ConfigError, match="is outside the config's directory"):
        load_files([_config(tmp_path / "repo2", "~/.ssh/id_ed25519")])


def test_allow_host_files_relaxes_the_place_but_not_from_a_project_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared.txt").write_text("shared\n")
    config = _config(tmp_path / "repo", str(tmp_path / "shared.txt"))
    (tmp_path / "repo" / "lkcloud.toml").write_text("allow-host-files = true\n")
    monkeypatch.chdir(tmp_path / "repo")
    with pytest.raises(ConfigError, match="outside the config's directory"):
        load_files([config])
    monkeypatch.setenv("LKCLOUD_ALLOW_HOST_FILES", "1")
    assert _build(config, tmp_path) == b"shared\n"


def test_a_missing_optional_source_is_skipped(tmp_path: Path) -> None:
    config = _config(tmp_path / "repo", "/nonexistent/lkcloud/key", optional=True)
    out = build(BuildOptions(files=(config,), formats=("tar",), outdir=tmp_path / "out", cache=tmp_path / "cache"))
    with tarfile.open(out.outputs["tar"][0]) as tar:
        assert "etc/copied" not in tar.getnames()


def test_the_allow_host_files_flag_is_the_users_own_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shared.txt").write_text("shared\n")
    config = _config(tmp_path / "repo", str(tmp_path / "shared.txt"))
    assert main(["validate", str(config)]) == 2
    assert "LKCLOUD_ALLOW_HOST_FILES=1" in capsys.readouterr().err
    assert main(["validate", str(config), "--allow-host-files"]) == 0
    monkeypatch.delenv("LKCLOUD_ALLOW_HOST_FILES", raising=False)
    assert main(["build", str(config), "-f", "tar", "--dir", str(tmp_path / "out"), "--cache",
                 str(tmp_path / "cache"), "--allow-host-files"]) == 0
