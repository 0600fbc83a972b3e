"""Hand-made image layers and a seeded image store for assembly tests."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from lkcloud.oci.api import ContainerConfig, LocalImage
from lkcloud.oci.store import ImageStore

Member = tuple[tarfile.TarInfo, bytes]


def _info(name: str, kind: bytes, mode: int, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 1600000000
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def file(name: str, data: bytes | str = b"", mode: int = 0o644, uid: int = 0, gid: int = 0) -> Member:
    raw = data.encode() if isinstance(data, str) else data
    return _info(name, tarfile.REGTYPE, mode, size=len(raw), uid=uid, gid=gid), raw


def directory(name: str, mode: int = 0o755) -> Member:
    return _info(name, tarfile.DIRTYPE, mode), b""


def symlink(name: str, target: str) -> Member:
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target), b""


def hardlink(name: str, target: str) -> Member:
    return _info(name, tarfile.LNKTYPE, 0o644, linkname=target), b""


def chardev(name: str, major: int, minor: int, mode: int = 0o666) -> Member:
    return _info(name, tarfile.CHRTYPE, mode, devmajor=major, devminor=minor), b""


def tar_bytes(members: Iterable[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def write_layer(path: Path, members: Iterable[Member]) -> Path:
    path.write_bytes(tar_bytes(members))
    return path


def seed(store: ImageStore, ref: str, layers: Sequence[Sequence[Member]], *, label: object | None = None,
         entrypoint: Sequence[str] | None = None, cmd: Sequence[str] | None = None,
         env: Sequence[str] | None = None, workdir: str | None = None) -> LocalImage:
    """Store an image under ``ref`` built from ``layers`` (bottom first)."""
    base = store.root.parent / "layers"
    base.mkdir(parents=True, exist_ok=True)
    paths = []
    for members in layers:
        data = tar_bytes(members)
        path = base / f"{abs(hash((ref, data)))}.tar"
        path.write_bytes(data)
        paths.append(path)
    labels: tuple[tuple[str, str], ...] = ()
    if label is not None:
        text = label if isinstance(label, str) else json.dumps(label)
        labels = (("org.mobyproject.config", text),)
    config = ContainerConfig(entrypoint=tuple(entrypoint) if entrypoint else None,
                             cmd=tuple(cmd) if cmd else None, env=tuple(env) if env else None,
                             working_dir=workdir, labels=labels)
    return store.put_image(ref, config=config, layers=paths)
