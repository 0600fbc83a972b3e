"""The root filesystem stream: order, image rules, bundles, volumes, files, PAX records."""

from __future__ import annotations

import json
import tarfile

from lkcloud.oci.store import ImageStore
from lkcloud.reproducible import LINUXKIT_MTIME
from lkcloud.spec.model import Config, File, Image, ImageConfig, Kernel, Volume
from tests.assemble.conftest import Build
from tests.assemble.layers import chardev, directory, file, hardlink, seed, tar_bytes

KERNEL = "linuxkit/kernel:6.1"


def _seed_common(store: ImageStore) -> None:
    modules = tar_bytes([directory("lib"), directory("lib/modules"), file("lib/modules/x.ko", "ko")])
    seed(store, KERNEL, [[file("kernel", "KERNEL"), file("kernel.tar", modules), file("ucode.cpio", "UC"),
                          file("README", "dropped")]])
    seed(store, "linuxkit/init:1", [[directory("etc"), file("etc/resolv.conf", "x"), file("etc/hostname", "h"),
                                     file(".dockerenv"), directory("lib"), directory("lib/apk"),
                                     directory("lib/apk/db"), file("lib/apk/db/installed", "P:init"),
                                     file("init", "#!/bin/sh", 0o755)]])
    seed(store, "linuxkit/runc:1", [[directory("lib"), directory("lib/apk"), directory("lib/apk/db"),
                                     file("lib/apk/db/installed", "P:runc"), file("usr/bin/runc", "r", 0o755)]])
    seed(store, "linuxkit/svc:1", [[directory("bin"), file("bin/svc", "s", 0o755), hardlink("bin/alias", "bin/svc"),
                                    directory("dev"), chardev("dev/console", 5, 1), file("Dockerfile")]],
         label={"capabilities": ["CAP_SYS_ADMIN"], "net": "host", "readonly": True, "binds": ["/a:/a"]},
         entrypoint=["/bin/svc"], env=["FROM=image"])


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    return {m.name.rstrip("/"): m for m in tar.getmembers()}


def _json(tar: tarfile.TarFile, name: str) -> dict:
    handle = tar.extractfile(name)
    assert handle is not None
    return json.loads(handle.read())


def test_stream_order_and_pax_records(store: ImageStore, assemble_tar: Build) -> None:
    _seed_common(store)
    config = Config(kernel=Kernel(image=KERNEL, cmdline="console=ttyS0", ucode="ucode.cpio"),
                    init=("linuxkit/init:1", "linuxkit/runc:1"),
                    onboot=(Image("first", "linuxkit/svc:1"),),
                    services=(Image("svc", "linuxkit/svc:1"),),
                    files=(File(path="/etc/motd", contents="hi"),))
    tar = assemble_tar(config)
    locations = [m.pax_headers["LINUXKIT.location"] for m in tar.getmembers()]
    order = ["kernel", "init[0]", "init[1]", "init", "onboot[0]", "services[0]", "files[0]"]
    assert [loc for i, loc in enumerate(locations) if i == 0 or locations[i - 1] != loc] == order
    members = _members(tar)
    assert members["boot/kernel"].pax_headers["LINUXKIT.source"] == "docker.io/linuxkit/kernel:6.1"
    assert tar.extractfile("boot/cmdline").read() == b"console=ttyS0"  # type: ignore[union-attr]
    assert "boot/ucode.cpio" in members and "lib/modules/x.ko" in members and "README" not in members
    assert members["etc/motd"].pax_headers == {"LINUXKIT.source": "linuxkit.files", "LINUXKIT.location": "files[0]"}
    assert members["etc/motd"].mode == 0o600 and members["etc/motd"].mtime == LINUXKIT_MTIME


def test_init_rules_and_apk_database(store: ImageStore, assemble_tar: Build) -> None:
    _seed_common(store)
    tar = assemble_tar(Config(init=("linuxkit/init:1", "linuxkit/runc:1")))
    members = [m for m in tar.getmembers() if m.pax_headers["LINUXKIT.location"] == "init[0]"]
    names = [m.name.rstrip("/") for m in members]
    assert ".dockerenv" not in names and "etc/hostname" not in names
    resolv = [m for m in members if m.name == "etc/resolv.conf"]
    assert resolv[0].issym() and resolv[0].linkname == "/run/resolvconf/resolv.conf"
    for touched in ("dev", "dev/pts", "dev/shm", "etc/hosts", "etc/mtab", "proc", "sys"):
        assert touched in names
    db = [m for m in tar.getmembers() if m.name == "lib/apk/db/installed"][-1]
    assert db.pax_headers["LINUXKIT.source"] == "LINUXKIT.apkinit"
    assert tar.extractfile(db).read() == b"P:init\n\nP:runc\n\n"  # type: ignore[union-attr]


def test_bundles_label_precedence_and_single_extraction(store: ImageStore, assemble_tar: Build) -> None:
    _seed_common(store)
    config = Config(
        onboot=(Image("first", "linuxkit/svc:1", ImageConfig(readonly=False, env=("FROM=yaml",))),),
        services=(Image("svc", "linuxkit/svc:1", ImageConfig(capabilities_add=("CAP_CHOWN",))),),
        files=(File(path="etc/owned", contents="x", uid="svc", gid="first"),),
    )
    tar = assemble_tar(config)
    members = _members(tar)
    first = "containers/onboot/000-first"
    assert f"{first}/lower/bin/svc" in members and f"{first}/tmp" in members and f"{first}/rootfs" in members
    assert members[f"{first}/lower/bin/alias"].linkname == f"{first}/lower/bin/svc"  # hard links follow the prefix
    assert f"{first}/lower/dev/console" not in members and f"{first}/lower/Dockerfile" not in members
    assert tar.extractfile(f"{first}/lower/etc/resolv.conf").read() == b"\n# no resolv.conf configured\n"  # type: ignore[union-attr]
    spec = _json(tar, f"{first}/config.json")
    assert spec["process"]["env"] == ["FROM=yaml"] and spec["process"]["args"] == ["/bin/svc"]
    assert spec["process"]["capabilities"]["effective"] == ["CAP_SYS_ADMIN"]
    assert "readonly" not in spec["root"]
    runtime = _json(tar, f"{first}/runtime.json")
    assert runtime["mounts"][2]["options"][0] == f"lowerdir=/{first}/lower"
    # the service reuses the onboot copy: read-only (from the label), bind-mounted from there
    svc = "containers/services/svc"
    assert not any(name.startswith(f"{svc}/lower") or name.startswith(f"{svc}/rootfs/") for name in members)
    assert _json(tar, f"{svc}/runtime.json")["mounts"][0] == {
        "destination": f"/{svc}/rootfs", "source": f"/{first}/lower", "options": ["bind"]}
    svc_spec = _json(tar, f"{svc}/config.json")
    assert svc_spec["root"] == {"path": "rootfs", "readonly": True}
    assert svc_spec["process"]["capabilities"]["effective"] == ["CAP_SYS_ADMIN", "CAP_CHOWN"]
    assert svc_spec["process"]["env"] == ["FROM=image"]
    assert {"type": "network"} not in svc_spec["linux"]["namespaces"]
    assert (members["etc/owned"].uid, members["etc/owned"].gid) == (101, 100)


def test_volumes_layout(store: ImageStore, assemble_tar: Build) -> None:
    _seed_common(store)
    config = Config(volumes=(Volume("blank"), Volume("data", image="linuxkit/runc:1")),
                    services=(Image("svc", "linuxkit/svc:1", ImageConfig(binds=("data:/data",))),))
    tar = assemble_tar(config)
    members = _members(tar)
    for name in ("blank", "data"):
        for part in ("lower", "tmp", "merged"):
            assert f"containers/volumes/{name}/{part}" in members
    assert members["containers/volumes/blank/lower"].pax_headers["LINUXKIT.source"] == "empty"
    assert members["containers/volumes/data/tmp"].pax_headers == {
        "LINUXKIT.source": "linuxkit.volumes", "LINUXKIT.location": "volume[1]"}
    assert "containers/volumes/data/lower/usr/bin/runc" in members
    assert members["containers/volumes/data/lower/etc/resolv.conf"].issym()
    mounts = {m["destination"]: m for m in _json(tar, "containers/services/svc/config.json")["mounts"]}
    assert mounts["/data"]["source"] == "/containers/volumes/data/merged"


def test_files_parents_modes_symlinks_and_metadata(store: ImageStore, assemble_tar: Build) -> None:
    config = Config(files=(
        File(path="a/b/c", contents="x", mode=0o640),
        File(path="a/b/d", directory=True),
        File(path="a/link", symlink="/etc/passwd"),
        File(path="etc/linuxkit-config", metadata="yaml"),  # type: ignore[arg-type]
        File(path="opt/missing", source="/nonexistent/file", optional=True),
    ))
    members = _members(assemble_tar(config))
    assert members["a"].mode == members["a/b"].mode == 0o750  # x added where r or w is set
    assert members["a/b/c"].mode == 0o640 and members["a/b/d"].isdir() and members["a/b/d"].mode == 0o700
    assert members["a/link"].issym() and members["a/link"].linkname == "/etc/passwd"
    assert members["etc/linuxkit-config"].size == len(b"meta")
    assert "opt/missing" not in members and "opt" not in members
