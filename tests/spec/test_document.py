"""YAML reading: yaml.v3 scalar rules, strictness, and line numbers."""

from __future__ import annotations

import pytest

from lkcloud.errors import ConfigError
from lkcloud.spec.document import parse


def _value(text: str) -> object:
    tree = parse(f"v: {text}\n", "t.yml").plain()
    assert isinstance(tree, dict)
    return tree["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),  # YAML 1.1 booleans are strings in yaml.v3
        ("on", "on"),
        ("No", "No"),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("", None),
        ("null", None),
        ("42", 42),
        ("-7", -7),
        ("0777", 0o777),  # YAML 1.1 octal still decoded by yaml.v3
        ("0o17", 0o17),
        ("0x1F", 31),
        ("0b101", 5),
        ("1_000", 1000),
        ("08", 8.0),  # not octal, so Go reads it as a float
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2001-12-14", "2001-12-14"),  # timestamps stay strings
        ("1:20", "1:20"),  # no sexagesimal numbers
        ('"5"', "5"),
        ("'true'", "true"),
        ("!!str 5", "5"),
        ('!!int "5"', 5),
        ("!!float 2", 2.0),
        ("-x", "-x"),
        ("0.0.1", "0.0.1"),
    ],
)
def test_scalars_resolve_like_yaml_v3(text: str, expected: object) -> None:
    value = _value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_lines_are_recorded() -> None:
    tree = parse("a: 1\nb:\n  - x\n  - y\n", "t.yml")
    assert isinstance(tree.value, dict)
    b = tree.value["b"]
    assert b.line == 2
    assert isinstance(b.value, list)
    assert [item.line for item in b.value] == [3, 4]


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse("a: 1\nb:\n  c: 1\n  c: 2\n", "t.yml")
    assert info.value.problems == ["t.yml:4: b.c: duplicate key (first defined at line 3)"]


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse("a:\n  - x\n  - [y\n", "t.yml")
    assert info.value.problems[0].startswith("t.yml:4: invalid YAML: ")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file(text: str) -> None:
    with pytest.raises(ConfigError, match=r"t\.yml: the file is empty"):
        parse(text, "t.yml")


def test_non_string_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"t.yml:2: a: mapping keys must be strings, not 1"):
        parse("a:\n  1: x\n", "t.yml")


def test_bad_explicit_tag() -> None:
    with pytest.raises(ConfigError, match=r"t.yml:1: a: cannot read 'x' as 'int'"):
        parse("a: !!int x\n", "t.yml")


def test_aliases_and_merge_keys() -> None:
    text = "base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\nlist: [*b]\n"
    assert parse(text, "t.yml").plain() == {
        "base": {"x": 1, "y": 2},
        "use": {"x": 1, "y": 3},
        "list": [{"x": 1, "y": 2}],
    }


def test_recursive_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        parse("a: &x [*x]\n", "t.yml")


def test_only_the_first_document_is_read() -> None:
    assert parse("a: 1\n---\nb: [\n", "t.yml").plain() == {"a": 1}


def test_deep_nesting_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"t\.yml"):
        parse("a: " + "[" * 5000 + "]" * 5000 + "\n", "t.yml")
