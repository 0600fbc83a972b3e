"""A pool of unpacked Debian packages, grown on demand along their ``Depends``.

Each package is unpacked in its own directory so that every kept file has a known source; the
pool records the exact ``.deb`` files (name and sha256) that feed a package's content tag.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import BuildError, UsageError
from lkcloud.pkg import debian
from lkcloud.process import run

log = logging.getLogger(__name__)

# OCI architecture -> (Debian architecture, multiarch triplet)
ARCHES: dict[str, tuple[str, str]] = {
    "amd64": ("amd64", "x86_64-linux-gnu"),
    "arm64": ("arm64", "aarch64-linux-gnu"),
}
_HOST = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_arch() -> str:
    return _HOST.get(platform.machine(), platform.machine())


def check_arch(arch: str) -> str:
    if arch not in ARCHES:
        raise UsageError(f"unsupported architecture {arch!r}", hint=f"choose one of {', '.join(ARCHES)}")
    return arch


@dataclass(frozen=True)
class Deb:
    """One ``.deb`` that went into a package."""

    package: str
    file: str  # the .deb's file name (it carries the exact version)
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_depends(text: str) -> list[str]:
    """Package names from a ``Depends``/``Pre-Depends`` field: first alternative, no versions."""
    names = []
    for clause in text.split(","):
        first = clause.split("|")[0].strip()
        name = re.split(r"[\s(\[:]", first, maxsplit=1)[0]
        if name:
            names.append(name)
    return names


class Pool:
    """Unpacked packages under ``workdir``, in the order they were added."""

    def __init__(self, workdir: Path, *, arch: str = "amd64", cache: Path | None = None) -> None:
        self.workdir = workdir
        self.arch = check_arch(arch)
        self.cache = cache
        self.trees: dict[str, Path] = {}
        self.debs: list[Deb] = []
        self._expanded: set[str] = set()
        self._depends: dict[str, list[str]] = {}

    def _qualified(self, package: str) -> str:
        name, eq, version = package.partition("=")
        if self.arch == host_arch() or ":" in name:
            return package
        return f"{name}:{ARCHES[self.arch][0]}{eq}{version}"

    def add(self, package: str) -> Path:
        """Download (cached) and unpack ``package``; returns its tree."""
        name = package.partition("=")[0]
        if name in self.trees:
            return self.trees[name]
        deb = debian.download(self._qualified(package), self.cache)
        tree = debian.extract(deb, self.workdir / f"{len(self.trees):03d}-{name}")
        fields = run(["dpkg-deb", "-f", deb, "Depends", "Pre-Depends"]).text
        self._depends[name] = [n for line in fields.splitlines() for n in parse_depends(line.partition(":")[2])]
        self.trees[name] = tree
        self.debs.append(Deb(name, deb.name, _sha256(deb)))
        return tree

    def expand(self) -> bool:
        """Add the dependencies of every package not expanded yet; False when nothing was new."""
        added = False
        for name in list(self.trees):
            if name in self._expanded:
                continue
            self._expanded.add(name)
            for dep in self._depends.get(name, []):
                if dep in self.trees:
                    continue
                try:
                    self.add(dep)
                    added = True
                except BuildError as exc:  # virtual or unavailable packages cannot hold libraries
                    log.debug("skipping dependency %s of %s: %s", dep, name, exc)
        return added

    def find(self, rel: str) -> tuple[Path, str] | None:
        """The first tree holding ``rel`` (a relative path; symlinks not followed)."""
        for tree in self.trees.values():
            if os.path.lexists(tree / rel):
                return tree, rel
        return None
