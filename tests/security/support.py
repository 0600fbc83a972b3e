"""Helpers shared by the threat-model tests: hostile layers built into real outputs."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path

from lkcloud.build import BuildOptions, build
from lkcloud.oci.store import ImageStore
from tests.assemble.layers import Member, file, seed

HOSTILE = "hostile/image:1"


def with_pax(member: Member, records: dict[str, str]) -> Member:
    """``member`` carrying ``records`` in its PAX header, in that order."""
    info, data = member
    info.pax_headers = dict(records)
    return info, data


def build_tar(tmp_path: Path, layers: Sequence[Sequence[Member]], name: str = "hostile") -> Path:
    """The ``tar`` output of a config whose one onboot container runs an image made of ``layers``."""
    seed(ImageStore(tmp_path / "cache"), HOSTILE, layers)
    config = tmp_path / f"{name}.yml"
    config.write_text(f"onboot:\n  - name: victim\n    image: {HOSTILE}\n")
    result = build(BuildOptions(files=(config,), formats=("tar",), outdir=tmp_path / "out", cache=tmp_path / "cache"))
    return result.outputs["tar"][0]


def members(path: Path) -> dict[str, tarfile.TarInfo]:
    """The members of a tar as Python's tarfile reads them (honouring every PAX record)."""
    with tarfile.open(path) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


__all__ = ["HOSTILE", "build_tar", "file", "members", "with_pax"]
