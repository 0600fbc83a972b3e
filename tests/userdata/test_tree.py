"""LinuxKit user data: checking, composing and rendering the /run/config tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.errors import ConfigError, UsageError
from lkcloud.userdata import tree as metadata
from lkcloud.userdata.compose import create

GOOD = {
    "ssh": {"entries": {"authorized_keys": {"perm": "0600", "content": "ssh-ed25519 AAAA"}}},
    "functions": {"entries": {"hello": {"content": "echo hi\n"}}},
    "hostname": {"content": "worker"},
}


@pytest.fixture(autouse=True)
def _plain_output() -> None:
    context.OPTIONS.json = context.OPTIONS.quiet = False


def test_parse_and_render() -> None:
    nodes = metadata.parse(json.dumps(GOOD).encode())
    text = metadata.render(nodes)
    assert "  ssh/  (0755)" in text
    assert "    authorized_keys  (0600, 16 bytes)" in text
    assert "  hostname  (0644, 6 bytes)" in text


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b'{"a": {"content": "x", "entries": {}}}', 'a: has both "content" and "entries"'),
        (b'{"a": {"perm": "0644"}}', 'a: has neither of "content" and "entries"'),
        (b'{"a": {"perm": "rw", "content": "x"}}', "a.perm: mode 'rw' is not an octal string"),
        (b'{"a": {"perm": "0999", "content": "x"}}', "a.perm: mode '0999'"),
        (b'{"d": {"entries": {"x": {"content": 5}}}}', "d.entries.x.content: must be a string"),
        (b'{"..": {"content": "x"}}', "'..' is not a valid file name"),
        (b'{"a": {"content": "x", "mode": "0644"}}', "a: unknown key 'mode'"),
        (b"[1, 2]", "the top level must be a JSON object"),
        (b'{"a": \n {"content": }', "not valid JSON (line 2)"),
    ],
)
def test_bad_documents_name_the_entry(doc: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        metadata.parse(doc, "ud.json")
    assert any(message in p for p in info.value.problems), info.value.problems
    assert all(p.startswith("ud.json: ") for p in info.value.problems)


def test_all_problems_reported() -> None:
    doc = b'{"a": {"perm": "x", "content": "1"}, "b": {}}'
    with pytest.raises(ConfigError) as info:
        metadata.parse(doc)
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(("provider", "limit"), [("aws", 16384), ("azure", 65536), ("gcp", 262144)])
def test_size_limits(provider: str, limit: int) -> None:
    fits = json.dumps({"f": {"content": "x" * (limit - 30)}})
    metadata.read_user_data(fits, None, provider)
    too_big = json.dumps({"f": {"content": "x" * limit}})
    with pytest.raises(UsageError, match=f"{provider} accepts at most {limit}"):
        metadata.read_user_data(too_big, None, provider)


def test_raw_user_data_passes_through(tmp_path: Path) -> None:
    raw = tmp_path / "script.sh"
    raw.write_text("#!/bin/sh\necho not json\n")
    assert metadata.read_user_data(None, raw, "aws") == raw.read_bytes()
    with pytest.raises(UsageError, match="not both"):
        metadata.read_user_data("x", raw, "aws")


def test_create_from_arguments_and_yaml(tmp_path: Path) -> None:
    key = tmp_path / "key.pub"
    key.write_text("ssh-ed25519 AAAA\n")
    tree = tmp_path / "tree.yml"
    tree.write_text("functions:\n  hello: |\n    echo hi\nconfig:\n  perm: '0700'\n  entries:\n    a: b\n")
    nodes = create(["app/port=8080"], [f"ssh/authorized_keys={key}:600"], tree)
    doc = metadata.to_document(nodes)
    assert doc["app"] == {"perm": "0755", "entries": {"port": {"perm": "0644", "content": "8080"}}}
    assert doc["ssh"]["entries"]["authorized_keys"]["perm"] == "0600"
    assert doc["functions"]["entries"]["hello"]["content"] == "echo hi\n"
    assert doc["config"]["perm"] == "0700"
    # The encoding is canonical: the same tree gives the same bytes.
    assert metadata.encode(nodes) == metadata.encode(metadata.parse(metadata.encode(nodes)))


def test_create_rejects_conflicts() -> None:
    with pytest.raises(UsageError, match="given twice"):
        create(["a=1", "a=2"])
    with pytest.raises(UsageError, match="is a file"):
        create(["a=1", "a/b=2"])
    with pytest.raises(UsageError, match="expected PATH=VALUE"):
        create(["novalue"])


def test_cli_create_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "user-data.json"
    assert main(["metadata", "create", "--entry", "functions/hello=echo hi", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["functions"]["entries"]["hello"]["content"] == "echo hi"
    capsys.readouterr()
    assert main(["metadata", "show", str(out)]) == 0
    assert "functions/" in capsys.readouterr().out


def test_cli_bad_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": {"content": "x", "entries": {}}}')
    assert main(["metadata", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json: a: has both" in err and "Traceback" not in err
    assert main(["metadata", "create", "--entry", "a=" + "x" * 20000, "--provider", "aws"]) == 2
