"""Building user-data trees from command-line entries, local files, or a readable YAML tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from lkcloud.errors import ConfigError, UsageError
from lkcloud.userdata.tree import Node, check_entries


def _insert(tree: dict[str, Any], path: str, leaf: dict[str, Any], origin: str) -> None:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise UsageError(f"{origin}: {path!r} is not a valid path under /run/config")
    node = tree
    for part in parts[:-1]:
        entry = node.setdefault(part, {"entries": {}})
        if "entries" not in entry:
            raise UsageError(f"{origin}: {part!r} is a file, so {path!r} cannot be inside it")
        node = entry["entries"]
    if parts[-1] in node:
        raise UsageError(f"{origin}: {path!r} is given twice")
    node[parts[-1]] = leaf


def _split(spec: str, flag: str) -> tuple[str, str]:
    path, sep, value = spec.partition("=")
    if not sep or not path:
        raise UsageError(f"{flag} {spec!r}: expected PATH=VALUE")
    return path, value


def _file_leaf(spec: str) -> tuple[str, dict[str, Any]]:
    path, local = _split(spec, "--file")
    mode = None
    name, sep, maybe_mode = local.rpartition(":")
    if sep and maybe_mode.isdigit():
        local, mode = name, maybe_mode
    try:
        content = Path(local).expanduser().read_text()
    except OSError as exc:
        raise UsageError(f"--file {spec!r}: cannot read {local}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"--file {spec!r}: {local} is not UTF-8 text (byte {exc.start})") from exc
    leaf: dict[str, Any] = {"content": content}
    if mode is not None:
        leaf["perm"] = mode.zfill(4)
    return path, leaf


def _from_yaml_value(value: Any, where: str) -> dict[str, Any]:
    """A readable YAML tree: a string is a file, a mapping with ``content`` (and ``perm``) is a
    file, any other mapping is a directory (an optional ``perm`` beside ``entries``)."""
    if isinstance(value, str):
        return {"content": value}
    if not isinstance(value, Mapping):
        raise ConfigError([f"{where}: must be text (a file) or a mapping (a directory)"])
    if "content" in value and set(value) <= {"content", "perm"}:
        return {k: str(v) for k, v in value.items()}
    if "entries" in value and set(value) <= {"entries", "perm"}:
        inner = value["entries"] or {}
        perm = {"perm": str(value["perm"])} if "perm" in value else {}
        return {**perm, "entries": _from_yaml_tree(inner, f"{where}.entries")}
    return {"entries": _from_yaml_tree(value, where)}


def _from_yaml_tree(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError([f"{where}: must be a mapping"])
    return {str(k): _from_yaml_value(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}


def load_yaml_tree(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if data is None:
        return {}
    return _from_yaml_tree(data, "")


def create(entries: Iterable[str] = (), files: Iterable[str] = (), from_yaml: Path | None = None) -> tuple[Node, ...]:
    """A checked user-data tree from ``--from`` YAML, then ``--entry PATH=TEXT`` and
    ``--file PATH=LOCALFILE[:MODE]`` arguments (later ones may not overwrite earlier ones)."""
    tree: dict[str, Any] = load_yaml_tree(from_yaml) if from_yaml is not None else {}
    for spec in entries:
        path, text = _split(spec, "--entry")
        _insert(tree, path, {"content": text}, "--entry")
    for spec in files:
        path, leaf = _file_leaf(spec)
        _insert(tree, path, leaf, "--file")
    problems: list[str] = []
    nodes = check_entries(tree, "", problems)
    if problems:
        source = str(from_yaml) if from_yaml is not None else "user data"
        raise ConfigError([f"{source}: {p}" for p in problems])
    return nodes


