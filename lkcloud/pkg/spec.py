"""``build.yml``: a package definition, validated strictly into a :class:`PackageSpec`.

Every problem is reported (not just the first) as ``file:line: key.path: message``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lkcloud.errors import ConfigError
from lkcloud.spec.document import Node, parse
from lkcloud.spec.schema import BOOLEAN, STRINGS, Issue, ListOf, Obj, Problems, Scalar, describe, string, strings

DEFAULT_TAG = "dev"
MOBY_LABEL = "org.mobyproject.config"
# [registry-host[:port]/]path, as Docker spells repository names
_REPO = re.compile(r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DEB = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(=[A-Za-z0-9.+~:\-]+)?$")


ARCHES = ("amd64", "arm64")


@dataclass(frozen=True)
class KernelSpec:
    """``kernel:``: the package is a LinuxKit kernel image (``kernel`` + ``kernel.tar``).

    ``package`` is one Debian package, or one per architecture
    (``{amd64: linux-image-cloud-amd64, arm64: linux-image-cloud-arm64}``)."""

    package: str | tuple[tuple[str, str], ...]  # a meta package is resolved to the real one
    modules: tuple[str, ...]  # module name globs kept, with their dependencies

    def package_for(self, arch: str, file: Path) -> str:
        """The Debian kernel package for ``arch``; ConfigError naming ``file`` when it has none."""
        if isinstance(self.package, str):
            return self.package
        found = dict(self.package).get(arch)
        if found is None:
            given = ", ".join(name for name, _ in self.package)
            raise ConfigError([f"{file}: kernel.package names no package for {arch} (only for {given})"])
        return found


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


def _pattern(pattern: re.Pattern[str], what: str) -> Scalar:
    return string(lambda v: None if pattern.match(v) else f"not a valid {what}: {v!r}")


def _labels(node: Node) -> list[Issue]:
    """Label values are strings; the LinuxKit label may also be a mapping (stored as JSON)."""
    issues = []
    for name, child in (node.value if isinstance(node.value, dict) else {}).items():
        if not isinstance(child.value, str) and not (name == MOBY_LABEL and isinstance(child.value, dict)):
            expected = "a string" + (" or a mapping" if name == MOBY_LABEL else "")
            issues.append(Issue(f".{name}", child.line, f"expected {expected}, got {describe(child.value)}"))
    return issues


DEB = _pattern(_DEB, "Debian package name")
ENV = strings(lambda v: None if "=" in v else f"expected NAME=VALUE, got {v!r}")
WORKDIR = string(lambda v: None if v.startswith("/") else "must be an absolute path")
class _AnyKeys(Obj):
    """An object whose keys are free (labels): only the hook checks it."""

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if not isinstance(node.value, dict):
            out.add(node.line, path, f"expected a mapping of label names to values, got {describe(node.value)}")
            return False
        issues = list(self.check(node)) if self.check else []
        for issue in issues:
            out.add(issue.line, path + issue.suffix, issue.message)
        return not issues


class _PerArch:
    """A value, or a mapping of architecture to a value (``{amd64: ..., arm64: ...}``)."""

    def __init__(self, value: Scalar) -> None:
        self.value = value
        self.mapping = Obj(dict.fromkeys(ARCHES, value), what="a mapping of architecture to a value")

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if isinstance(node.value, dict):
            return self.mapping.walk(node, path, out)
        return self.value.walk(node, path, out)


LABELS = _AnyKeys({}, check=_labels)
KERNEL = Obj({"package": _PerArch(DEB), "modules": STRINGS}, required=("package",))
SCHEMA = Obj({
    "image": _pattern(_REPO, "image name"), "tag": _pattern(_TAG, "tag"), "debs": ListOf(DEB), "keep": STRINGS,
    "libraries": BOOLEAN, "entrypoint": STRINGS, "cmd": STRINGS, "env": ENV, "workdir": WORKDIR,
    "labels": LABELS, "kernel": KERNEL,
}, required=("image",), what="a package definition (a mapping with image, debs...)")


def _values(plain: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in plain.items():
        if value is None:
            continue
        if key == "labels":
            values[key] = tuple(sorted((name, v if isinstance(v, str) else json.dumps(v, sort_keys=True,
                                                                                  separators=(",", ":")))
                                       for name, v in value.items()))
        elif key == "kernel":
            package = value["package"]
            packages = package if isinstance(package, str) else tuple(sorted(package.items()))
            values[key] = KernelSpec(package=packages, modules=tuple(value.get("modules") or ()))
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return values


def load(directory: Path) -> PackageSpec:
    """The package defined by ``directory/build.yml``; raises ConfigError listing every problem."""
    file = directory / "build.yml"
    try:
        text = file.read_text()
    except OSError as exc:
        hint = "a package is a directory with a build.yml"
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"], hint=hint) from exc
    root = parse(text, str(file))
    problems = Problems(str(file))
    valid = SCHEMA.walk(root, "", problems)
    plain = root.plain() if valid else {}
    if valid and not plain.get("kernel") and "debs" not in plain and not (directory / "rootfs").is_dir():
        problems.add(root.line, "debs", "a package needs debs, a rootfs/ overlay, or kernel")
    if problems.items or not valid:
        raise ConfigError(problems.items or [f"{file}: invalid package definition"])
    return PackageSpec(directory=directory, **_values(plain))
