"""pkg/metadata's user-data program (userdata.jq) run with the host's jq: the records the probe
script turns into /run/config, and the entries it skips (logged, never fatal)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from lkcloud.errors import ToolFailedError
from lkcloud.process import run
from tests.support.hello import ROOT

PROGRAM = ROOT / "pkg" / "metadata" / "rootfs" / "usr" / "lib" / "lkcloud-metadata" / "userdata.jq"
pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")


def records(raw: bytes, tmp_path: Path) -> list[list[str]]:
    source = tmp_path / "user-data"
    source.write_bytes(raw)
    out = run(["sh", "-c", f"jq -r -s -f {PROGRAM} < {source}"]).text
    return [line.split("\t") for line in out.splitlines()]


def test_tree_with_modes_and_defaults(tmp_path: Path) -> None:
    tree = {"ssh": {"entries": {"authorized_keys": {"perm": "0600", "content": "ssh-ed25519 AAA\n"}}},
            "app": {"perm": "0700", "entries": {"conf": {"content": "a\tb\nc"}, "empty": {"content": ""}}}}
    got = records(json.dumps(tree).encode(), tmp_path)
    assert got == [
        ["D", "0700", "app"],
        ["F", "0644", "app/conf", base64.b64encode(b"a\tb\nc").decode()],
        ["F", "0644", "app/empty", ""],
        ["D", "0755", "ssh"],
        ["F", "0600", "ssh/authorized_keys", base64.b64encode(b"ssh-ed25519 AAA\n").decode()],
    ]


@pytest.mark.parametrize(("entry", "reason"), [
    ({"content": "x", "entries": {}}, 'has both "content" and "entries"'),
    ({"perm": "0644"}, 'has neither "content" nor "entries"'),
    ("text", 'an entry must be an object with "content" or "entries"'),
    ({"perm": "rw-r--r--", "content": "x"}, 'perm "rw-r--r--" is not an octal mode such as "0644"'),
    ({"content": 42}, "content must be a string"),
    ({"entries": []}, "entries must be an object"),
])
def test_bad_entries_are_skipped_and_the_rest_written(entry: object, reason: str, tmp_path: Path) -> None:
    got = records(json.dumps({"bad": entry, "good": {"content": "ok"}}).encode(), tmp_path)
    assert got == [["E", '"bad"', reason], ["F", "0644", "good", base64.b64encode(b"ok").decode()]]


@pytest.mark.parametrize("name", ["..", ".", "a/b", "tab\there", ""])
def test_names_that_would_leave_the_directory_are_skipped(name: str, tmp_path: Path) -> None:
    got = records(json.dumps({name: {"content": "x"}}).encode(), tmp_path)
    assert got == [["E", json.dumps(name), "not a valid file name"]]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"[1, 2]", "the top level must be a JSON object"),
    (b"{} {}", "expected one JSON document, found 2"),
])
def test_documents_that_are_not_one_object(raw: bytes, reason: str, tmp_path: Path) -> None:
    assert records(raw, tmp_path) == [["E", '""', reason]]


def test_malformed_json_fails_so_the_script_keeps_it_raw(tmp_path: Path) -> None:
    with pytest.raises(ToolFailedError):
        records(b'{"a": ', tmp_path)
