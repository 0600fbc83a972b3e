"""``fleet.yml``: a fleet defined in a file, so that one command builds, pushes and rolls it.

::

    name: faas-demo                 # default: the file's name without .yml
    provider: qemu                  # required: qemu, aws, gcp, azure
    image: [../templates/faas-worker.yml, functions/worker.yml]  # LinuxKit YAML to build (merged
                                    # in order), or one image (file, NAME prefix, cloud image id)
    packages: [functions/hello]     # optional: package directories built first (lkcloud pkg build)
    size: 2
    user_data: {functions: {entries: {echo: {perm: "0755", content: "cat\\n"}}}}   # or
    user_data_file: user-data.json
    instance_type: t3.micro         # default: the provider's (templates/fleets.yml)
    update: {max_surge: 1, max_unavailable: 0, min_healthy_percent: 100, warmup_seconds: 0,
             canary_percent: null, pause_seconds: 0, auto_rollback: true}

Relative paths are relative to the file. Every problem is reported, each naming the file, the
line and the key. Each provider's defaults (instance type, health check, update policy) are data,
in ``templates/fleets.yml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lkcloud import settings as lk_settings
from lkcloud.errors import ConfigError, UsageError
from lkcloud.metadata import check_entries, check_size, encode, read_user_data
from lkcloud.providers import PROVIDERS, UpdatePolicy
from lkcloud.spec.document import Node, parse

YAML_SUFFIXES = (".yml", ".yaml")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DEFAULTS = lk_settings.declare("fleet.defaults", str(TEMPLATES / "fleets.yml"),
                               "each provider's fleet defaults (instance types, health checks, update policy)")
MAX_SIZE = 1000


@dataclass(frozen=True)
class HealthSettings:
    """An HTTP health check: GET ``path`` on ``port`` must answer 200 ``ok VERSION``."""

    path: str = "/healthz"
    port: int = 8080
    interval_seconds: float = 2.0
    timeout_seconds: float = 3.0
    grace_seconds: float = 300.0


@dataclass(frozen=True)
class FleetDefaults:
    provider: str
    instance_type: str | None = None
    health_check: HealthSettings = field(default_factory=HealthSettings)
    update: UpdatePolicy = field(default_factory=UpdatePolicy)


@dataclass(frozen=True)
class FleetFile:
    """A validated fleet.yml; ``image`` holds absolute YAML paths to build, or one image."""

    path: Path
    name: str
    provider: str
    image: tuple[str, ...]
    size: int
    packages: tuple[Path, ...] = ()
    user_data: bytes | None = None
    instance_type: str | None = None
    update: UpdatePolicy = field(default_factory=UpdatePolicy)

    @property
    def builds(self) -> bool:
        """Whether ``image`` is LinuxKit YAML to build first."""
        return all(value.endswith(YAML_SUFFIXES) for value in self.image)


class _Check:
    """Collects problems as ``file:line: key: message``."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.base = file.parent
        self.problems: list[str] = []

    def fail(self, node: Node, key: str, message: str) -> None:
        self.problems.append(f"{self.file}:{node.line}: {key}: {message}")


Checker = Callable[[_Check, Node, str], Any]


def _string(c: _Check, node: Node, key: str) -> str | None:
    if not isinstance(node.value, str) or not node.value:
        c.fail(node, key, "expected a non-empty string")
        return None
    return node.value


def _count(low: int, high: int) -> Checker:
    def check(c: _Check, node: Node, key: str) -> int | None:
        if isinstance(node.value, bool) or not isinstance(node.value, int) or not low <= node.value <= high:
            c.fail(node, key, f"expected a whole number from {low} to {high}, got {node.value!r}")
            return None
        return node.value

    return check


def _number(c: _Check, node: Node, key: str) -> float | None:
    if isinstance(node.value, bool) or not isinstance(node.value, int | float) or node.value < 0:
        c.fail(node, key, f"expected a number of seconds (0 or more), got {node.value!r}")
        return None
    return float(node.value)


def _bool(c: _Check, node: Node, key: str) -> bool | None:
    if not isinstance(node.value, bool):
        c.fail(node, key, f"expected true or false, got {node.value!r}")
        return None
    return node.value


def _provider(c: _Check, node: Node, key: str) -> str | None:
    value = _string(c, node, key)
    if value is not None and value not in PROVIDERS:
        c.fail(node, key, f"unknown provider {value!r} (known: {', '.join(sorted(PROVIDERS))})")
        return None
    return value


def _local(c: _Check, node: Node, key: str, value: str) -> Path | None:
    path = (c.base / value).resolve()
    if not path.exists():
        c.fail(node, key, f"{value}: no such file or directory (relative to {c.base})")
        return None
    return path


def _image_one(c: _Check, node: Node, key: str) -> str | None:
    value = _string(c, node, key)
    if value is None:
        return None
    if value.endswith(YAML_SUFFIXES):
        found = _local(c, node, key, value)
        return str(found) if found else None
    local = c.base / value
    # A local image file or NAME prefix, else a provider's image id (ami-..., a GCE image name).
    if local.exists() or Path(f"{local}-kernel").exists():
        return str(local.resolve())
    return value


def _image(c: _Check, node: Node, key: str) -> tuple[str, ...] | None:
    items = node.value if isinstance(node.value, list) else [node]
    many = isinstance(node.value, list)
    found = [_image_one(c, item, f"{key}[{i}]" if many else key) for i, item in enumerate(items)]
    if not items:
        c.fail(node, key, "expected an image or a list of LinuxKit YAML files")
    values = tuple(v for v in found if v is not None)
    if len(values) > 1 and not all(v.endswith(YAML_SUFFIXES) for v in values):
        c.fail(node, key, "a list must hold only LinuxKit YAML files (merged in order)")
    return values if len(values) == len(found) and values else None


def _packages(c: _Check, node: Node, key: str) -> tuple[Path, ...] | None:
    if not isinstance(node.value, list):
        c.fail(node, key, "expected a list of package directories")
        return None
    found = []
    for i, item in enumerate(node.value):
        value = _string(c, item, f"{key}[{i}]")
        path = _local(c, item, f"{key}[{i}]", value) if value else None
        if path is not None and not (path / "build.yml").is_file():
            c.fail(item, f"{key}[{i}]", f"{value}: not a package directory (no build.yml)")
        elif path is not None:
            found.append(path)
    return tuple(found)


def _user_data(c: _Check, node: Node, key: str) -> bytes | None:
    problems: list[str] = []
    nodes = check_entries(node.plain(), "", problems)
    for problem in problems:
        c.fail(node, key, problem)
    return None if problems else encode(nodes)


def _user_data_file(c: _Check, node: Node, key: str) -> Path | None:
    value = _string(c, node, key)
    return _local(c, node, key, value) if value else None


def _mapping(c: _Check, node: Node, key: str, table: dict[str, Checker]) -> dict[str, Any] | None:
    """Check a mapping against ``table``; unknown keys are errors naming the known ones."""
    if not isinstance(node.value, dict):
        c.fail(node, key or "(top level)", "expected a mapping")
        return None
    values: dict[str, Any] = {}
    prefix = f"{key}." if key else ""
    for name, child in node.value.items():
        if name not in table:
            c.fail(child, prefix + name, f"unknown key (known: {', '.join(sorted(table))})")
        elif child.value is not None:
            values[name] = table[name](c, child, prefix + name)
    return values


_POLICY: dict[str, Checker] = {
    "max_surge": _count(0, MAX_SIZE), "max_unavailable": _count(0, MAX_SIZE),
    "min_healthy_percent": _count(0, 100), "warmup_seconds": _count(0, 86400),
    "canary_percent": _count(1, 99), "pause_seconds": _count(0, 86400), "auto_rollback": _bool,
}
_HEALTH: dict[str, Checker] = {
    "path": _string, "port": _count(1, 65535), "interval_seconds": _number, "timeout_seconds": _number,
    "grace_seconds": _number,
}


def _policy(base: UpdatePolicy) -> Checker:
    def check(c: _Check, node: Node, key: str) -> UpdatePolicy | None:
        values = _mapping(c, node, key, _POLICY)
        return None if values is None else replace(base, **{k: v for k, v in values.items() if v is not None})

    return check


def _health(c: _Check, node: Node, key: str) -> HealthSettings | None:
    values = _mapping(c, node, key, _HEALTH)
    return None if values is None else HealthSettings(**{k: v for k, v in values.items() if v is not None})


def _optional_string(c: _Check, node: Node, key: str) -> str | None:
    return _string(c, node, key)


def _read(path: Path) -> Node:
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse(text, str(path))


def load_defaults(path: Path | None = None) -> dict[str, FleetDefaults]:
    """Every provider's fleet defaults from ``templates/fleets.yml`` (built-in values if absent)."""
    path = path or lk_settings.Settings().path(DEFAULTS)
    if path is None or not path.is_file():
        return {name: FleetDefaults(name) for name in PROVIDERS}
    c = _Check(path)
    root = _read(path)
    table: dict[str, Checker] = {"instance_type": _optional_string, "health_check": _health,
                                 "update": _policy(UpdatePolicy())}
    found = {name: FleetDefaults(name) for name in PROVIDERS}
    entries = _mapping(c, root, "", {name: lambda c, n, k: _mapping(c, n, k, table) for name in PROVIDERS})
    for name, values in (entries or {}).items():
        if values is not None:
            found[name] = FleetDefaults(name, **{k: v for k, v in values.items() if v is not None})
    if c.problems:
        raise ConfigError(c.problems)
    return found


def defaults(provider: str) -> FleetDefaults:
    return load_defaults()[provider]


def _fields(base: UpdatePolicy) -> dict[str, Checker]:
    return {"name": _string, "provider": _provider, "image": _image, "packages": _packages, "size": _count(0, MAX_SIZE),
            "user_data": _user_data, "user_data_file": _user_data_file, "instance_type": _optional_string,
            "update": _policy(base)}


def _required(c: _Check, root: Node) -> None:
    given = root.value if isinstance(root.value, dict) else {}
    for key in ("provider", "image", "size"):
        if key not in given:
            c.fail(root, key, "required key is missing")
    if "user_data" in given and "user_data_file" in given:
        c.fail(given["user_data_file"], "user_data_file", "give user_data or user_data_file, not both")


def load(path: Path) -> FleetFile:
    """The fleet defined in ``path``; raises ConfigError listing every problem."""
    c = _Check(path)
    root = _read(path)
    provider_node = root.value.get("provider") if isinstance(root.value, dict) else None
    provider = provider_node.value if provider_node is not None else None
    base = load_defaults()[provider].update if provider in PROVIDERS else UpdatePolicy()
    values = _mapping(c, root, "", _fields(base)) or {}
    _required(c, root)
    if c.problems or any(values.get(k) is None for k in ("provider", "image", "size")):
        raise ConfigError(c.problems or [f"{path}: invalid fleet file"])
    user_data = values.get("user_data")
    if values.get("user_data_file") is not None:
        user_data = read_user_data(None, values["user_data_file"], values["provider"])
    elif user_data is not None:
        check_size(user_data, values["provider"])
    known = {f.name for f in fields(FleetFile)}
    kept = {k: v for k, v in values.items() if k in known and k != "user_data" and v is not None}
    kept.setdefault("name", path.name.rsplit(".", 1)[0])
    kept.setdefault("instance_type", load_defaults()[values["provider"]].instance_type)
    kept.setdefault("update", base)
    return FleetFile(path=path, user_data=user_data, **kept)
