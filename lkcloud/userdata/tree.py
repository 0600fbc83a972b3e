"""The LinuxKit user-data contract: JSON that the metadata package turns into /run/config.

A user-data document is a JSON object ``{name: entry}``; an entry is a file
``{"perm": "0644", "content": "..."}`` or a directory ``{"perm": "0755", "entries": {...}}``
(LinuxKit's ``pkg/metadata``). Each name becomes ``/run/config/<name>``. This module builds such
documents, checks them (shape, names, modes, each provider's size limit) before any API call,
and renders the tree they become.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.errors import ConfigError, UsageError

# Bytes each provider's user-data channel accepts.
LIMITS: dict[str, int] = {
    "aws": 16 * 1024,
    "gcp": 256 * 1024,
    "azure": 64 * 1024,
    "qemu": 16 * 1024 * 1024,
}
FILE_MODE = 0o644
DIR_MODE = 0o755
# Permission bits only: a 4-digit mode such as 4755 would make a setuid file from user data.
_MODE = re.compile(r"^0?[0-7]{3}$")


@dataclass(frozen=True)
class Node:
    """One entry of the /run/config tree: a file (``content`` set) or a directory."""

    name: str
    mode: int
    content: str | None = None
    children: tuple[Node, ...] = field(default_factory=tuple)

    @property
    def is_dir(self) -> bool:
        return self.content is None


def _mode(value: Any, where: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MODE.match(value):
        problems.append(f"{where}.perm: mode {value!r} is not an octal string such as \"0644\" "
                        "(permission bits only: no setuid, setgid or sticky bit)")
        return None
    return int(value, 8)


def _check_name(name: str, where: str, problems: list[str]) -> bool:
    """A name the metadata agent writes as given: no ``/``, no control characters, and no leading
    or trailing blanks (the agent refuses them: ``" "`` or ``"ssh "`` named another path)."""
    control = any(ord(c) < 32 or ord(c) == 127 for c in name)
    if not name or name in (".", "..") or "/" in name or control or name != name.strip():
        problems.append(f"{where}: {name!r} is not a valid file name")
        return False
    return True


def _entry(name: str, value: Any, where: str, problems: list[str]) -> Node | None:
    if not isinstance(value, Mapping):
        problems.append(f"{where}: an entry must be an object with \"content\" or \"entries\"")
        return None
    unknown = sorted(set(value) - {"perm", "content", "entries"})
    if unknown:
        problems.append(f"{where}: unknown key {unknown[0]!r} (allowed: perm, content, entries)")
    has_content, has_entries = "content" in value, "entries" in value
    if has_content == has_entries:
        which = "both" if has_content else "neither of"
        problems.append(f"{where}: has {which} \"content\" and \"entries\"; give exactly one")
        return None
    mode = _mode(value.get("perm"), where, problems)
    if has_content:
        if not isinstance(value["content"], str):
            problems.append(f"{where}.content: must be a string")
            return None
        return Node(name, FILE_MODE if mode is None else mode, content=value["content"])
    children = check_entries(value["entries"], f"{where}.entries", problems)
    return Node(name, DIR_MODE if mode is None else mode, children=children)


def check_entries(value: Any, where: str, problems: list[str]) -> tuple[Node, ...]:
    """Check a mapping of entries, appending one line per problem; returns the valid nodes."""
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be an object of entries")
        return ()
    nodes = []
    for name in sorted(value):
        path = f"{where}.{name}" if where else str(name)
        if _check_name(str(name), path, problems):
            node = _entry(str(name), value[name], path, problems)
            if node is not None:
                nodes.append(node)
    return tuple(nodes)


def parse(raw: bytes, source: str = "user data") -> tuple[Node, ...]:
    """Parse and check a user-data document; every problem names the entry's path."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigError([f"{source}: not valid JSON{line}: {exc}"]) from exc
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise ConfigError([f"{source}: the top level must be a JSON object"])
    nodes = check_entries(document, "", problems)
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return nodes


def to_document(nodes: tuple[Node, ...]) -> dict[str, Any]:
    """The JSON document for a tree (modes as 4-digit octal strings)."""
    out: dict[str, Any] = {}
    for node in nodes:
        perm = f"{node.mode:04o}"
        if node.is_dir:
            out[node.name] = {"perm": perm, "entries": to_document(node.children)}
        else:
            out[node.name] = {"perm": perm, "content": node.content}
    return out


def encode(nodes: tuple[Node, ...]) -> bytes:
    """Compact, key-sorted JSON: the same tree always gives the same bytes."""
    return json.dumps(to_document(nodes), sort_keys=True, separators=(",", ":")).encode()


def render(nodes: tuple[Node, ...], root: str = "/run/config") -> str:
    """The tree as the metadata package will write it, one line per entry."""
    lines = [f"{root}/"]

    def walk(children: tuple[Node, ...], depth: int) -> None:
        for node in children:
            pad = "  " * depth
            if node.is_dir:
                lines.append(f"{pad}{node.name}/  ({node.mode:04o})")
                walk(node.children, depth + 1)
            else:
                size = len((node.content or "").encode())
                lines.append(f"{pad}{node.name}  ({node.mode:04o}, {size} bytes)")

    walk(nodes, 1)
    return "\n".join(lines)


def check_size(raw: bytes, provider: str) -> None:
    limit = LIMITS.get(provider)
    if limit is not None and len(raw) > limit:
        raise UsageError(
            f"user data is {len(raw)} bytes; {provider} accepts at most {limit}",
            hint="put large files on a volume or in a package, and pass only settings as user data",
        )


def read_user_data(data: str | None, data_file: Path | None, provider: str) -> bytes | None:
    """The user data from ``--data`` or ``--data-file`` (not both), checked before any API call:
    a JSON object must be valid LinuxKit user data; anything else is passed through raw (the
    metadata package stores it as /run/config/userdata). The size must fit the provider."""
    if data is not None and data_file is not None:
        raise UsageError("give --data or --data-file, not both")
    if data_file is not None:
        try:
            raw = data_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"{data_file}: cannot read user data: {exc.strerror}") from exc
        source = str(data_file)
    elif data is not None:
        raw, source = data.encode(), "--data"
    else:
        return None
    if raw.lstrip()[:1] in (b"{", b"[") or source.endswith(".json"):
        parse(raw, source)
    check_size(raw, provider)
    return raw
