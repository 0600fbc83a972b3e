"""Mutated configs are either valid or rejected with an LkcloudError, never another exception."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lkcloud.errors import LkcloudError
from lkcloud.spec.dump import config_to_dict
from lkcloud.spec.label import parse_label_config
from lkcloud.spec.load import load_text
from tests.spec.samples import FULL

BASE: dict[str, Any] = yaml.safe_load(FULL)

KEYS = st.sampled_from(
    ["name", "image", "path", "mode", "capabilities", "binds", "rlimits", "uid", "mounts", "devices", "runtime",
     "contents", "source", "metadata", "directory", "format", "bindNS", "x", "CAP_SYS_ADMIN", "all"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["all", "none", "0644", "0999", "../x", "a:b", "a:b:c:d", "nofile,1,2", "CAP_FOO", "yes", "~/x"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=6,
)


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, found)
    return found


def _mutate(data: st.DataObject, doc: dict[str, Any]) -> None:
    target = data.draw(st.sampled_from(_containers(doc, [])))
    action = data.draw(st.sampled_from(["drop", "insert", "replace"]))
    if isinstance(target, dict):
        if action == "drop" and target:
            del target[data.draw(st.sampled_from(sorted(target)))]
        elif action == "replace" and target:
            target[data.draw(st.sampled_from(sorted(target)))] = data.draw(VALUES)
        else:
            target[data.draw(KEYS)] = data.draw(VALUES)
    elif action == "drop" and target:
        target.pop(data.draw(st.integers(0, len(target) - 1)))
    elif action == "replace" and target:
        target[data.draw(st.integers(0, len(target) - 1))] = data.draw(VALUES)
    else:
        target.append(data.draw(VALUES))


def _check(text: str) -> None:
    try:
        config = load_text(text, "fuzz.yml")
    except LkcloudError:
        return
    config_to_dict(config)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_configs(data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(data, doc)
    _check(yaml.safe_dump(doc))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(FULL)), st.text(max_size=8))
def test_mutated_text(position: int, insert: str) -> None:
    _check(FULL[:position] + insert + FULL[position:])


@settings(max_examples=100, deadline=None)
@given(VALUES)
def test_random_labels(value: Any) -> None:
    with contextlib.suppress(LkcloudError):
        parse_label_config(yaml.safe_dump(value), "img")
