"""The metadata CD: user data on an ISO9660 volume labelled ``cidata``, as ``linuxkit run --data``.

LinuxKit's metadata package probes ``/dev/sr*`` for a ``cidata`` volume and reads ``user-data``,
else ``config``; both files carry the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lkcloud.fsutil import atomic_path
from lkcloud.process import run
from lkcloud.reproducible import source_date_epoch

LABEL = "cidata"
FILES = ("config", "user-data")


def write_iso(data: bytes, dest: Path) -> Path:
    """Write the metadata ISO holding ``data`` to ``dest`` (atomically) and return ``dest``."""
    epoch = str(source_date_epoch())  # fixed timestamps: same data, same ISO bytes
    with tempfile.TemporaryDirectory(prefix="lkcloud-cidata-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        for name in FILES:
            (tree / name).write_bytes(data)
            os.utime(tree / name, (int(epoch), int(epoch)))
        os.utime(tree, (int(epoch), int(epoch)))  # the root directory's record carries its mtime too
        with atomic_path(dest, mode=0o600) as out:  # user data: readable by its owner only
            run(
                ["xorriso", "-as", "mkisofs", "-quiet", "-o", out, "-V", LABEL, "-J", "-R", tree],
                env={"SOURCE_DATE_EPOCH": epoch},
            )
    return dest


def list_iso(path: Path) -> tuple[str, list[str]]:
    """The volume label and the file names of an ISO (for checks and tests)."""
    out = run(["xorriso", "-indev", path, "-pvd_info", "-find", "/", "-type", "f"])
    text = out.stdout.decode() + out.stderr.decode()
    label = ""
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith("Volume Id"):
            label = line.partition(":")[2].strip()
        elif line.startswith("'/"):
            names.append(line.strip("'").lstrip("/"))
    return label, sorted(names)


def read_file(path: Path, name: str) -> bytes:
    """One file's content from an ISO."""
    with tempfile.TemporaryDirectory(prefix="lkcloud-cidata-") as tmp:
        out = Path(tmp) / "out"
        run(["xorriso", "-osirrox", "on", "-indev", path, "-extract", f"/{name}", out])
        return out.read_bytes()
