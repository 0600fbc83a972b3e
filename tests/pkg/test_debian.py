"""Debian packages for another architecture: the .deb cache keyed by architecture, apt told about
a foreign architecture (or a one-line error saying how), kernel meta packages resolved per arch."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud.pkg import debian

VERSION = "1:1.35.0-4"
STEM = "busybox-static_1%3a1.35.0-4_"


def _seed(cache: Path, *arches: str) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    found = {}
    for arch in arches:
        found[arch] = cache / f"{STEM}{arch}.deb"
        found[arch].write_bytes(arch.encode())
    return found


def test_cache_is_keyed_by_architecture(tmp_path: Path) -> None:
    """The amd64 .deb of the same version is never taken for arm64 (nor the other way)."""
    seeded = _seed(tmp_path, "amd64", "arm64")
    assert debian.download(f"busybox-static:arm64={VERSION}", tmp_path) == seeded["arm64"]
    assert debian.download(f"busybox-static={VERSION}", tmp_path) == seeded["amd64"]
    assert debian.download(f"busybox-static:amd64={VERSION}", tmp_path) == seeded["amd64"]


def test_architecture_independent_debs_serve_every_architecture(tmp_path: Path) -> None:
    seeded = _seed(tmp_path, "all")
    assert debian.download(f"busybox-static:arm64={VERSION}", tmp_path) == seeded["all"]


def test_foreign_architecture_without_root_says_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    debian.ensure_architecture.cache_clear()
    monkeypatch.setattr(debian.os, "geteuid", lambda: 1000)
    try:
        with pytest.raises(UsageError) as info:
            debian.ensure_architecture("riscv64")  # not configured on the test machine
    finally:
        debian.ensure_architecture.cache_clear()
    assert info.value.message == ("apt does not know Debian's riscv64 packages: as root, run: "
                                  "dpkg --add-architecture riscv64 && apt-get update")


def test_host_architecture_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    debian.ensure_architecture.cache_clear()
    monkeypatch.setattr(debian, "run", lambda *a, **k: pytest.fail("no dpkg call for the host architecture"))
    try:
        debian.ensure_architecture(str(debian.host_arch()))
    finally:
        debian.ensure_architecture.cache_clear()


@pytest.mark.slow
def test_kernel_meta_package_resolves_for_arm64() -> None:
    found = debian.resolve_alias("linux-image-cloud-arm64", "arm64")
    assert found.startswith("linux-image-") and found.endswith("-cloud-arm64") and ":" not in found
