"""Debian packages as build inputs: download with ``apt-get download``, unpack with ``dpkg-deb``.

Downloads are cached under ``~/.cache/lkcloud/debs`` by their file name (which carries the
version and the architecture), so a second build is offline; unpacking never needs root. Another
architecture's packages (``busybox-static:arm64``) need it known to apt: added when root.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lkcloud.errors import BuildError, ToolFailedError, UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.platform import host_arch
from lkcloud.process import run
from lkcloud.settings import user_cache_dir

_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+~:\-]+)?$")


VERSIONS = "versions.json"  # apt's candidate versions, with the state of the lists they came from


def deb_cache_dir() -> Path:
    return user_cache_dir() / "debs"


def _architecture(package: str) -> str:
    """The Debian architecture a (``name:arch``-qualified) package name asks for."""
    qualifier = package.partition("=")[0].partition(":")[2]
    return qualifier or str(host_arch())


@functools.cache
def ensure_architecture(arch: str) -> None:
    """Make apt know ``arch``'s packages: ``dpkg --add-architecture`` and ``apt-get update`` when
    root; otherwise a UsageError saying the two commands to run."""
    if arch == str(host_arch()) or arch in run(["dpkg", "--print-foreign-architectures"]).text.split():
        return
    command = f"dpkg --add-architecture {arch} && apt-get update"
    if os.geteuid() != 0:
        raise UsageError(f"apt does not know Debian's {arch} packages: as root, run: {command}")
    run(["dpkg", "--add-architecture", arch])
    run(["apt-get", "update", "-qq"])


APT_LISTS = Path("/var/lib/apt/lists")


def _lists_stamp() -> str:
    """What apt's package lists are now (``apt-get update`` changes them): the answers of
    ``apt-cache policy`` hold until it changes."""
    try:
        found = sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(APT_LISTS) if e.is_file())
    except OSError:
        return ""
    return hashlib.sha256(repr(found).encode()).hexdigest()


def _known_versions(stamp: str) -> dict[str, str]:
    try:
        saved = json.loads((deb_cache_dir() / VERSIONS).read_text())
    except (OSError, ValueError):
        return {}
    ok = isinstance(saved, dict) and saved.get("lists") == stamp and isinstance(saved.get("versions"), dict)
    return {str(k): str(v) for k, v in saved["versions"].items()} if ok else {}


def resolve_version(package: str) -> str:
    """The candidate version apt would download (``apt-cache policy``, remembered until apt's
    lists change: asking apt costs about a second)."""
    stamp = _lists_stamp()
    known = _known_versions(stamp) if stamp else {}
    if package in known:
        return known[package]
    version = _ask_apt(package)
    if stamp:
        with contextlib.suppress(OSError):
            deb_cache_dir().mkdir(parents=True, exist_ok=True)
            with atomic_output(deb_cache_dir() / VERSIONS) as out:
                out.write(json.dumps({"lists": stamp, "versions": {**known, package: version}}).encode())
    return version


def _ask_apt(package: str) -> str:
    out = run(["apt-cache", "policy", package]).text
    match = re.search(r"Candidate:\s*(\S+)", out)
    if not match or match.group(1) == "(none)":
        raise BuildError(
            f"Debian package {package!r} is not known to apt",
            hint="check the name, and run 'apt-get update' first",
        )
    return match.group(1)


def resolve_alias(package: str, arch: str | None = None) -> str:
    """A virtual or meta package's concrete dependency when it has exactly one
    (``linux-image-cloud-amd64`` -> ``linux-image-6.1.0-NN-cloud-amd64``), asked for ``arch``'s
    packages when it is not this machine's; the answer carries no ``:arch``."""
    query = package if arch is None or arch == str(host_arch()) else f"{package}:{arch}"
    if arch is not None:
        ensure_architecture(arch)
    out = run(["apt-cache", "depends", "--no-recommends", "--no-suggests", query]).text
    deps = [dep.partition(":")[0] for dep in re.findall(r"^\s+Depends:\s*(\S+)", out, flags=re.MULTILINE)]
    return deps[0] if len(deps) == 1 and deps[0].startswith("linux-image-") else package


def download(package: str, cache: Path | None = None) -> Path:
    """The ``.deb`` of ``package`` (optionally ``name=version``), downloaded once and cached."""
    if not _NAME.match(package):
        raise BuildError(f"not a Debian package name: {package!r}")
    cache = cache or deb_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    name, _, version = package.partition("=")
    if not version:
        ensure_architecture(_architecture(package))  # apt answers for the architectures it knows
        version = resolve_version(name)
    plain = name.split(":")[0]
    # apt-get download writes an epoch's colon as %3a (busybox-static_1%3a1.35.0-4_amd64.deb).
    stem = f"{plain}_{version.replace(':', '%3a')}_"
    existing = [cache / f"{stem}{arch}.deb" for arch in (_architecture(package), "all")]
    found = next((path for path in existing if path.is_file()), None)
    if found is not None:
        return found
    ensure_architecture(_architecture(package))  # only to download: a cached .deb needs no apt
    with tempfile.TemporaryDirectory(dir=cache, prefix=".dl-") as tmp:
        try:
            run(["apt-get", "download", f"{name}={version}"], cwd=tmp)
        except ToolFailedError as exc:
            raise BuildError(f"cannot download Debian package {package!r}: {exc.message}") from exc
        debs = sorted(Path(tmp).glob("*.deb"))
        if not debs:
            raise BuildError(f"apt-get download gave no file for {package!r}")
        final = cache / debs[0].name
        os.replace(debs[0], final)
        return final


def extract(deb: Path, dest: Path) -> Path:
    """Unpack a ``.deb``'s data into ``dest`` (created); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    run(["dpkg-deb", "-x", deb, dest])
    return dest


def fetch_tree(packages: Sequence[str], dest: Path) -> Path:
    """Download and unpack several packages into one tree."""
    for package in packages:
        extract(download(package), dest)
    return dest
