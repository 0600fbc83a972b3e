"""User data reaching the in-VM metadata agent (issue 17, item 7).

User data is written by whoever can set it on the instance (or the cidata CD). The agent runs as
root: a name must stay one exact path under /run/config and a mode only permission bits. Once
a key ``" "`` with perm ``0777`` ran ``chmod 0777 /run/config``, ``"ssh "`` changed the real
``/run/config/ssh``, and ``4755`` made setuid files.

The agent's own ``apply_userdata`` runs here on the host, under busybox, on a scratch directory.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from lkcloud.errors import ConfigError
from lkcloud.process import run
from lkcloud.userdata.compose import create
from lkcloud.userdata.tree import parse
from tests.conftest import ROOT

LIB = ROOT / "pkg" / "metadata" / "rootfs" / "usr" / "lib" / "lkcloud-metadata"
pytestmark = pytest.mark.skipif(shutil.which("jq") is None or shutil.which("busybox") is None,
                                reason="jq and busybox are needed to run the agent's script")

# The agent's helpers from common.sh, without its busybox --install into /tmp/bin.
HARNESS = """
say() { echo "metadata: $*"; }
put_file() { cat > "$1.new" && chmod "$2" "$1.new" && mv -f "$1.new" "$1"; }
. "$LIB/userdata.sh"
mkdir -p "$CONFIG/ssh" "$WORK" && chmod 0755 "$CONFIG" "$CONFIG/ssh"
apply_userdata "$1"
"""


def apply(tmp_path: Path, document: object) -> Path:
    config = tmp_path / "config"
    data = tmp_path / "user-data"
    data.write_text(json.dumps(document))
    env = {"LIB": str(LIB), "CONFIG": str(config), "WORK": str(tmp_path / "work"), "PATH": "/usr/bin:/bin"}
    run(["busybox", "sh", "-c", HARNESS, "sh", str(data)], env=env)
    return config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_blank_name_does_not_chmod_the_config_directory(tmp_path: Path) -> None:
    config = apply(tmp_path, {" ": {"perm": "0777", "entries": {}}, "ok": {"content": "x"}})
    assert _mode(config) == 0o755
    assert (config / "ok").read_text() == "x"


def test_a_trailing_blank_does_not_reach_the_real_directory(tmp_path: Path) -> None:
    config = apply(tmp_path, {"ssh ": {"perm": "0777", "entries": {"authorized_keys": {"content": "evil"}}},
                              " ssh": {"perm": "0777", "entries": {}}})
    assert _mode(config / "ssh") == 0o755
    assert not (config / "ssh" / "authorized_keys").exists()
    assert not (config / "ssh ").exists() and not (config / " ssh").exists()


@pytest.mark.parametrize("perm", ["4755", "2755", "1777", "04755", "7777"])
def test_setuid_setgid_and_sticky_modes_are_refused(tmp_path: Path, perm: str) -> None:
    config = apply(tmp_path, {"tool": {"perm": perm, "content": "#!/bin/sh\n"},
                              "dir": {"perm": perm, "entries": {}}})
    assert not (config / "tool").exists() and not (config / "dir").exists()


@pytest.mark.parametrize(("perm", "mode"), [("0750", 0o750), ("640", 0o640), ("", 0o644)])
def test_permission_bits_are_applied(tmp_path: Path, perm: str, mode: int) -> None:
    config = apply(tmp_path, {"file": {"perm": perm, "content": "x"}, "with space": {"content": "y"}})
    assert _mode(config / "file") == mode
    assert (config / "with space").read_text() == "y"  # a blank inside a name is a name


@pytest.mark.parametrize("name", [" ", "ssh ", " ssh", "tab\tname", "line\nbreak"])
def test_metadata_create_refuses_what_the_agent_would_skip(name: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid file name"):
        create(entries=[f"{name}/key=value"] if name.strip() else [f"{name}=value"])
    with pytest.raises(ConfigError, match="is not a valid file name"):
        parse(json.dumps({name: {"content": "x"}}).encode())


@pytest.mark.parametrize("perm", ["4755", "2755", "1777"])
def test_metadata_create_refuses_special_mode_bits(tmp_path: Path, perm: str) -> None:
    local = tmp_path / "script"
    local.write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match="permission bits only"):
        create(files=[f"bin/tool={local}:{perm}"])
    with pytest.raises(ConfigError, match="permission bits only"):
        parse(json.dumps({"tool": {"perm": perm, "content": "x"}}).encode())
