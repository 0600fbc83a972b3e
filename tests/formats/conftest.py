"""Format test inputs: a Debian cloud kernel and a tiny busybox initrd whose /init prints a marker
and powers off. Both are made once per session; the kernel is cached under ~/.cache."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lkcloud.formats import BuildInputs
from lkcloud.pkg import debian
from lkcloud.process import run
from tests.formats.support import MARKER, MakeInputs, inputs_at

INIT = f"""#!/bin/busybox sh
/bin/busybox mkdir -p /dev /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox echo {MARKER}
/bin/busybox poweroff -f
"""
BUSYBOX = Path("/bin/busybox")


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "lkcloud" / "test-kernels"


@pytest.fixture(scope="session")
def kernel() -> Path:
    """/boot/vmlinuz-* of Debian's linux-image-cloud-amd64, extracted once and cached."""
    deb = debian.download(debian.resolve_alias("linux-image-cloud-amd64"))
    cached = _cache_dir() / f"{deb.stem}.vmlinuz"
    if cached.exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        tree = debian.extract(deb, Path(tmp) / "tree")
        found = sorted((tree / "boot").glob("vmlinuz-*"))
        assert found, f"no /boot/vmlinuz-* in {deb}"
        partial = Path(tmp) / "vmlinuz"
        shutil.copyfile(found[0], partial)
        os.replace(partial, cached)
    return cached


@pytest.fixture(scope="session")
def initrd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gzip newc initrd: static busybox and an /init that prints MARKER and powers off."""
    if not BUSYBOX.is_file():
        pytest.skip("busybox-static is not installed")
    base = tmp_path_factory.mktemp("initrd")
    tree = base / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copyfile(BUSYBOX, tree / "bin" / "busybox")
    (tree / "bin" / "busybox").chmod(0o755)
    (tree / "init").write_text(INIT)
    (tree / "init").chmod(0o755)
    for name in ("dev", "proc"):
        (tree / name).mkdir()
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    archive = run(
        ["cpio", "-o", "-H", "newc", "-R", "0:0", "--reproducible"], cwd=tree, input=("\n".join(names) + "\n").encode()
    ).stdout
    out = base / "initrd.img"
    out.write_bytes(gzip.compress(archive, mtime=0))
    return out


@pytest.fixture
def make_inputs(kernel: Path, initrd: Path, tmp_path: Path) -> MakeInputs:
    """BuildInputs for the test kernel and initrd, with a fresh outdir/workdir under tmp_path."""

    def make(sub: str = "out", **overrides: object) -> BuildInputs:
        given: dict[str, object] = {"kernel": kernel, "initrd": initrd, **overrides}
        return inputs_at(tmp_path / sub, **given)  # type: ignore[arg-type]

    return make
