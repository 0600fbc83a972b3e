"""``fleet.yml``: a fleet defined in a file, so that one command builds, pushes and rolls it.

::

    name: faas-demo                 # default: the file's name without .yml
    provider: qemu                  # required: qemu, aws, gcp, azure
    image: [../templates/faas-worker.yml, functions/worker.yml]  # LinuxKit YAML to build (merged
                                    # in order), or one image (file, NAME prefix, cloud image id)
    packages: [functions/hello]     # optional: package directories built first (lkcloud pkg build)
    size: 2
    arch: amd64                     # or arm64
    user_data: {functions: {entries: {echo: {perm: "0755", content: "cat\\n"}}}}   # or
    user_data_file: user-data.json
    instance_type: t3.micro         # default: the provider's (templates/fleets.yml), per arch
    health_check: {path: /healthz, port: 8080}
    update: {max_surge: 1, max_unavailable: 0, min_healthy_percent: 100, warmup_seconds: 0,
             canary_percent: null, pause_seconds: 0, auto_rollback: true}

Relative paths are relative to the file. Every problem is reported, each naming the file, the
line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.diskfile import YAML_SUFFIXES
from lkcloud.errors import ConfigError
from lkcloud.fleet.defaults import defaults, health, read_yaml, update
from lkcloud.fleet.schema import ARCH, HEALTH, MAX_SIZE, UPDATE, Either, optional, whole
from lkcloud.platform import Arch, parse_arch
from lkcloud.provider.registry import PROVIDERS
from lkcloud.provider.types import HealthCheck, UpdatePolicy
from lkcloud.spec.document import Node
from lkcloud.spec.schema import STRING, STRINGS, Enum, Issue, MapOf, Obj, Problems, Scalar
from lkcloud.userdata.tree import check_entries, check_size, encode, read_user_data

LINUXKIT_KEYS = frozenset({"kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust"})


@dataclass(frozen=True)
class FleetFile:
    """A validated fleet.yml; ``image`` holds absolute YAML paths to build, or one image."""

    path: Path
    name: str
    provider: str
    image: tuple[str, ...]
    size: int
    arch: Arch = Arch.AMD64
    packages: tuple[Path, ...] = ()
    user_data: bytes | None = None
    instance_type: str | None = None
    update: UpdatePolicy = field(default_factory=UpdatePolicy)
    health: HealthCheck = field(default_factory=HealthCheck)

    @property
    def builds(self) -> bool:
        """Whether ``image`` is LinuxKit YAML to build first."""
        return all(value.endswith(YAML_SUFFIXES) for value in self.image)


def _user_data(node: Node) -> list[Issue]:
    problems: list[str] = []
    check_entries(node.plain(), "", problems)
    return [Issue("", node.line, problem.removeprefix(": ")) for problem in problems]


SCHEMA = Obj({
    "name": STRING, "provider": Enum(tuple(PROVIDERS)),
    "image": Either(((str, STRING), (list, STRINGS)), "an image or a list of LinuxKit YAML files"),
    "packages": STRINGS, "size": whole(0, MAX_SIZE), "arch": ARCH,
    "user_data": MapOf(Scalar((dict, str), "an entry")), "user_data_file": STRING,
    "instance_type": optional(STRING), "health_check": HEALTH, "update": UPDATE,
}, required=("provider", "image", "size"), what="a fleet (a mapping with provider, image and size)")
# user_data is checked as LinuxKit user data below (entries, perms), with the file's lines.


class _Paths:
    """Local paths in the file, checked relative to its directory."""

    def __init__(self, path: Path, problems: Problems) -> None:
        self.base = path.parent
        self.problems = problems

    def local(self, node: Node, key: str) -> Path | None:
        value = str(node.value)
        found = (self.base / value).resolve()
        if not found.exists():
            self.problems.add(node.line, key, f"{value}: no such file or directory (relative to {self.base})")
            return None
        return found

    def image(self, node: Node) -> tuple[str, ...]:
        items = node.value if isinstance(node.value, list) else [node]
        values: list[str] = []
        for index, item in enumerate(items):
            key = f"image[{index}]" if isinstance(node.value, list) else "image"
            text = str(item.value)
            if text.endswith(YAML_SUFFIXES):
                found = self.local(item, key)
                values += [str(found)] if found else []
                continue
            local = self.base / text
            # A local image file or NAME prefix, else a provider's image id (ami-..., an image name).
            values.append(str(local.resolve()) if local.exists() or Path(f"{local}-kernel").exists() else text)
        if len(values) > 1 and not all(v.endswith(YAML_SUFFIXES) for v in values):
            self.problems.add(node.line, "image", "a list must hold only LinuxKit YAML files (merged in order)")
        if not items:
            self.problems.add(node.line, "image", "expected an image or a list of LinuxKit YAML files")
        return tuple(values)

    def packages(self, node: Node) -> tuple[Path, ...]:
        found = []
        for index, item in enumerate(node.value if isinstance(node.value, list) else []):
            path = self.local(item, f"packages[{index}]")
            if path is not None and not (path / "build.yml").is_file():
                self.problems.add(item.line, f"packages[{index}]", f"{item.value}: not a package directory"
                                  " (no build.yml)")
            elif path is not None:
                found.append(path)
        return tuple(found)


def _strings(node: Node | None) -> bool:
    """Whether ``node`` is a string or a list of strings (a shape whose paths can be checked)."""
    if node is None:
        return False
    items = node.value if isinstance(node.value, list) else [node]
    return all(isinstance(item.value, str) for item in items)


def _line(problem: str) -> int:
    head = problem.split(": ", 1)[0]
    tail = head.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _refuse_linuxkit(path: Path, root: Node) -> None:
    keys = set(root.value) if isinstance(root.value, dict) else set()
    if keys & LINUXKIT_KEYS and not keys & {"provider", "size"}:
        raise ConfigError([f"{path}: this is a LinuxKit config, not a fleet file"],
                          hint="a fleet file has provider, image and size; its image may name this config")


def load(path: Path) -> FleetFile:
    """The fleet defined in ``path``; ConfigError listing every problem."""
    root = read_yaml(path)
    _refuse_linuxkit(path, root)
    problems = Problems(str(path))
    valid = SCHEMA.walk(root, "", problems)
    given: dict[str, Node] = root.value if isinstance(root.value, dict) else {}
    paths = _Paths(path, problems)
    if "user_data" in given and "user_data_file" in given:
        problems.add(given["user_data_file"].line, "user_data_file", "give user_data or user_data_file, not both")
    for issue in _user_data(given["user_data"]) if "user_data" in given else []:
        problems.add(issue.line, "user_data", issue.message)
    values = {"image": paths.image(given["image"]) if _strings(given.get("image")) else (),
              "packages": paths.packages(given["packages"]) if _strings(given.get("packages")) else (),
              "user_data_file": paths.local(given["user_data_file"], "user_data_file")
              if _strings(given.get("user_data_file")) else None}
    if not valid or problems.items:
        raise ConfigError(sorted(problems.items, key=_line) or [f"{path}: invalid fleet file"])
    return _fleet(path, root.plain(), values)


def _fleet(path: Path, plain: dict[str, Any], values: dict[str, Any]) -> FleetFile:
    provider = str(plain["provider"])
    base = defaults(provider)
    arch = parse_arch(plain.get("arch", "amd64"))
    if values["user_data_file"] is not None:
        user_data = read_user_data(None, values["user_data_file"], provider)
    elif plain.get("user_data") is not None:
        problems: list[str] = []
        user_data = encode(check_entries(plain["user_data"], "", problems))
        check_size(user_data, provider)
    else:
        user_data = None
    return FleetFile(path=path, name=str(plain.get("name") or path.name.rsplit(".", 1)[0]), provider=provider,
                     image=values["image"], size=int(plain["size"]), arch=arch, packages=values["packages"],
                     user_data=user_data, instance_type=plain.get("instance_type") or base.instance_type(arch),
                     update=update(plain.get("update"), base.update), health=health(plain.get("health_check"),
                                                                                    base.health))
