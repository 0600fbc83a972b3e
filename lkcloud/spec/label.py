"""The ``org.mobyproject.config`` image label: per-image settings shipped with an image."""

from __future__ import annotations

import json
from typing import Any

from lkcloud.errors import ConfigError
from lkcloud.spec import document, rules
from lkcloud.spec.convert import image_config
from lkcloud.spec.document import Node
from lkcloud.spec.model import ImageConfig
from lkcloud.spec.schema import Problems, describe

LABEL = "org.mobyproject.config"


def _from_json(value: Any) -> Node:
    """A JSON value as a located tree (a label is one line: every node is on line 1)."""
    if isinstance(value, dict):
        return Node({str(k): _from_json(v) for k, v in value.items()}, 1)
    if isinstance(value, list):
        return Node([_from_json(v) for v in value], 1)
    return Node(value, 1)


def _tree(text: str, where: str) -> Node:
    if text.lstrip().startswith("{"):
        try:
            return _from_json(json.loads(text))
        except (ValueError, RecursionError):
            pass  # not strict JSON: read it as YAML, which reports the problem with its place
    return document.parse(text, where)


def parse_label_config(text: str, source: str) -> ImageConfig:
    """The settings in a label (YAML or JSON) of image ``source``; errors name the image."""
    where = f"{source} (label {LABEL})"
    tree = _tree(text, where)
    if not isinstance(tree.value, dict):
        raise ConfigError([f"{where}:{tree.line}: expected a mapping of image settings, got {describe(tree.value)}"])
    problems = Problems(where)
    for key in ("name", "image"):
        if key in tree.value:
            problems.add(tree.value[key].line, key, "cannot be set in an image label")
    valid = rules.LABEL.walk(
        Node({k: v for k, v in tree.value.items() if k not in ("name", "image")}, tree.line), "", problems
    )
    if problems.items or not valid:
        raise ConfigError(problems.items, hint=f"the {LABEL} label of {source} is invalid; fix or rebuild the image")
    return image_config(tree.plain())
