"""``build.yml``: a package definition, validated strictly into a :class:`PackageSpec`.

Every problem is reported (not just the first) as ``file:line: key.path: message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lkcloud.errors import ConfigError

DEFAULT_TAG = "dev"
MOBY_LABEL = "org.mobyproject.config"
# [registry-host[:port]/]path, as Docker spells repository names
_REPO = re.compile(r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DEB = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(=[A-Za-z0-9.+~:\-]+)?$")


@dataclass(frozen=True)
class KernelSpec:
    """``kernel:``: the package is a LinuxKit kernel image (``kernel`` + ``kernel.tar``)."""

    package: str  # e.g. linux-image-cloud-amd64 (a meta package is resolved to the real one)
    modules: tuple[str, ...]  # module name globs kept, with their dependencies


@dataclass(frozen=True)
class PackageSpec:
    """A validated ``build.yml``; ``directory`` holds it and the optional ``rootfs/`` overlay."""

    directory: Path
    image: str
    tag: str = DEFAULT_TAG
    debs: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()  # path globs; empty keeps every file of ``debs``
    libraries: bool = True
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    workdir: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    kernel: KernelSpec | None = None

    @property
    def file(self) -> Path:
        return self.directory / "build.yml"

    @property
    def overlay(self) -> Path:
        return self.directory / "rootfs"


class _Problems:
    def __init__(self, file: Path) -> None:
        self.file = file
        self.items: list[str] = []

    def add(self, node: yaml.Node, key: str, message: str) -> None:
        self.items.append(f"{self.file}:{node.start_mark.line + 1}: {key}: {message}")


def _scalar(node: yaml.Node) -> Any:
    value = yaml.safe_load(yaml.serialize(node))
    return value


def _string(p: _Problems, node: yaml.Node, key: str) -> str | None:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, str) or not value:
        p.add(node, key, "expected a non-empty string")
        return None
    return value


def _strings(p: _Problems, node: yaml.Node, key: str) -> tuple[str, ...] | None:
    if not isinstance(node, yaml.SequenceNode):
        p.add(node, key, "expected a list of strings")
        return None
    found = [_string(p, item, f"{key}[{i}]") for i, item in enumerate(node.value)]
    return tuple(s for s in found if s is not None)


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[_Problems, yaml.Node, str], str | None]:
    def check(p: _Problems, node: yaml.Node, key: str) -> str | None:
        value = _string(p, node, key)
        if value is not None and not pattern.match(value):
            p.add(node, key, f"not a valid {what}: {value!r}")
            return None
        return value

    return check


def _debs(p: _Problems, node: yaml.Node, key: str) -> tuple[str, ...] | None:
    values = _strings(p, node, key)
    for i, value in enumerate(values or ()):
        if not _DEB.match(value):
            p.add(node.value[i], f"{key}[{i}]", f"not a Debian package name: {value!r}")
    return values


def _env(p: _Problems, node: yaml.Node, key: str) -> tuple[str, ...] | None:
    values = _strings(p, node, key)
    for i, value in enumerate(values or ()):
        if "=" not in value:
            p.add(node.value[i], f"{key}[{i}]", f"expected NAME=VALUE, got {value!r}")
    return values


def _workdir(p: _Problems, node: yaml.Node, key: str) -> str | None:
    value = _string(p, node, key)
    if value is not None and not value.startswith("/"):
        p.add(node, key, "must be an absolute path")
    return value


def _bool(p: _Problems, node: yaml.Node, key: str) -> bool | None:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, bool):
        p.add(node, key, "expected true or false")
        return None
    return value


def _labels(p: _Problems, node: yaml.Node, key: str) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(node, yaml.MappingNode):
        p.add(node, key, "expected a mapping of label names to values")
        return None
    labels: dict[str, str] = {}
    for name_node, value_node in node.value:
        name = _string(p, name_node, key)
        if name is None:
            continue
        where = f"{key}.{name}"
        if name == MOBY_LABEL and isinstance(value_node, yaml.MappingNode):
            labels[name] = json.dumps(_scalar(value_node), sort_keys=True, separators=(",", ":"))
        elif isinstance(value_node, yaml.ScalarNode) and isinstance(_scalar(value_node), str):
            labels[name] = _scalar(value_node)
        else:
            p.add(value_node, where, "expected a string" + (" or a mapping" if name == MOBY_LABEL else ""))
    return tuple(sorted(labels.items()))


def _kernel(p: _Problems, node: yaml.Node, key: str) -> KernelSpec | None:
    fields = _mapping(p, node, key, {"package": _debs_one, "modules": _strings}, required=("package",))
    if fields is None or "package" not in fields:
        return None
    return KernelSpec(package=fields["package"], modules=fields.get("modules", ()))


def _debs_one(p: _Problems, node: yaml.Node, key: str) -> str | None:
    return _matching(_DEB, "Debian package name")(p, node, key)


Field = Callable[[_Problems, yaml.Node, str], Any]

FIELDS: dict[str, Field] = {
    "image": _matching(_REPO, "image name"),
    "tag": _matching(_TAG, "tag"),
    "debs": _debs,
    "keep": _strings,
    "libraries": _bool,
    "entrypoint": _strings,
    "cmd": _strings,
    "env": _env,
    "workdir": _workdir,
    "labels": _labels,
    "kernel": _kernel,
}


def _mapping(
    p: _Problems, node: yaml.Node, where: str, fields: dict[str, Field], required: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        p.add(node, where or "(top level)", "expected a mapping")
        return None
    prefix = f"{where}." if where else ""
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(_scalar(key_node))
        if key in values:
            p.add(key_node, prefix + key, "duplicate key")
        elif key not in fields:
            p.add(key_node, prefix + key, f"unknown key (known: {', '.join(sorted(fields))})")
        elif not (isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null")):
            values[key] = fields[key](p, value_node, prefix + key)
    for key in required:
        if values.get(key) is None:
            p.add(node, prefix + key, "required key is missing")
    return {k: v for k, v in values.items() if v is not None}


def load(directory: Path) -> PackageSpec:
    """The package defined by ``directory/build.yml``; raises ConfigError listing every problem."""
    file = directory / "build.yml"
    try:
        text = file.read_text()
    except OSError as exc:
        hint = "a package is a directory with a build.yml"
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"], hint=hint) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{file}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    problems = _Problems(file)
    if root is None:
        raise ConfigError([f"{file}:1: image: required key is missing"])
    values = _mapping(problems, root, "", FIELDS, required=("image",))
    if values is not None and not values.get("kernel") and "debs" not in values and not (directory / "rootfs").is_dir():
        problems.add(root, "debs", "a package needs debs, a rootfs/ overlay, or kernel")
    if problems.items or values is None:
        raise ConfigError(problems.items)
    return PackageSpec(directory=directory, **values)
