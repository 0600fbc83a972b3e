"""The formats LinuxKit writes itself: kernel+initrd, tar, tar-kernel-initrd, docker."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

from lkcloud.errors import BuildError
from lkcloud.formats import BuildInputs, Format
from lkcloud.fsutil import atomic_output, atomic_path
from lkcloud.progress import Reporter

DOCKERFILE = b'\nFROM scratch\n\nCOPY . ./\n\nENTRYPOINT ["/bin/rc.init"]\n'


def _need(path: Path | None, what: str) -> Path:
    if path is None:
        raise BuildError(f"internal: the build gave no {what}")
    return path


def _copy(src: Path, dest: Path) -> Path:
    with atomic_output(dest) as out, src.open("rb") as fh:
        shutil.copyfileobj(fh, out, 1 << 20)
    return dest


def _member(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    tar.addfile(info, io.BytesIO(data))


def write_kernel_initrd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    base = inputs.outdir / inputs.name
    outputs = [_copy(_need(inputs.kernel, "kernel"), Path(f"{base}-kernel")),
               _copy(_need(inputs.initrd, "initrd"), Path(f"{base}-initrd.img"))]
    with atomic_output(Path(f"{base}-cmdline")) as out:
        out.write(inputs.cmdline.encode())
    outputs.append(Path(f"{base}-cmdline"))
    return outputs


def write_tar(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    return [_copy(_need(inputs.rootfs_tar, "root filesystem tar"), inputs.outdir / f"{inputs.name}.tar")]


def write_tar_kernel_initrd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    dest = inputs.outdir / f"{inputs.name}-initrd.tar"
    parts = [("kernel", _need(inputs.kernel, "kernel").read_bytes()),
             ("initrd.img", _need(inputs.initrd_only or inputs.initrd, "initrd").read_bytes()),
             ("cmdline", inputs.cmdline.encode())]
    if inputs.ucode is not None:
        parts.append(("ucode.cpio", inputs.ucode.read_bytes()))
    with atomic_output(dest) as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in parts:
            if data:
                _member(tar, name, data, inputs.source_date_epoch)
    return [dest]


def write_docker(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    dest = inputs.outdir / f"{inputs.name}.docker"
    with atomic_path(dest) as tmp:
        shutil.copyfile(_need(inputs.rootfs_tar, "root filesystem tar"), tmp)
        with tarfile.open(tmp, mode="a", format=tarfile.PAX_FORMAT) as tar:
            _member(tar, "Dockerfile", DOCKERFILE, inputs.source_date_epoch)
    return [dest]


FORMATS: dict[str, Format] = {
    "kernel+initrd": Format("kernel+initrd", lambda n: (f"{n}-kernel", f"{n}-initrd.img", f"{n}-cmdline"),
                            write_kernel_initrd, help="kernel, initrd and command line (the default)"),
    "tar": Format("tar", lambda n: (f"{n}.tar",), write_tar, needs_kernel=False, needs_rootfs=True,
                  help="the root filesystem as a tar"),
    "tar-kernel-initrd": Format("tar-kernel-initrd", lambda n: (f"{n}-initrd.tar",), write_tar_kernel_initrd,
                                help="kernel, initrd.img, cmdline (and ucode.cpio) in one tar"),
    "docker": Format("docker", lambda n: (f"{n}.docker",), write_docker, needs_kernel=False, needs_rootfs=True,
                     help="the root filesystem tar with a Dockerfile, for docker import/build"),
}
