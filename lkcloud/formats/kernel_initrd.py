"""``kernel+initrd`` (three files, LinuxKit's default) and ``tar-kernel-initrd`` (the same in one tar)."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

from lkcloud.errors import BuildError
from lkcloud.formats import BuildInputs, Format
from lkcloud.fsutil import atomic_output
from lkcloud.progress import Reporter


def need(path: Path | None, what: str) -> Path:
    if path is None:
        raise BuildError(f"internal: the build gave no {what}")
    return path


def copy(src: Path, dest: Path) -> Path:
    with atomic_output(dest) as out, src.open("rb") as fh:
        shutil.copyfileobj(fh, out, 1 << 20)
    return dest


def tar_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    tar.addfile(info, io.BytesIO(data))


def write_kernel_initrd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    base = inputs.outdir / inputs.name
    outputs = [copy(need(inputs.kernel, "kernel"), Path(f"{base}-kernel")),
               copy(need(inputs.initrd, "initrd"), Path(f"{base}-initrd.img"))]
    with atomic_output(Path(f"{base}-cmdline")) as out:
        out.write(inputs.cmdline.encode())
    outputs.append(Path(f"{base}-cmdline"))
    return outputs


def write_tar_kernel_initrd(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    dest = inputs.outdir / f"{inputs.name}-initrd.tar"
    parts = [("kernel", need(inputs.kernel, "kernel").read_bytes()),
             ("initrd.img", need(inputs.initrd_only or inputs.initrd, "initrd").read_bytes()),
             ("cmdline", inputs.cmdline.encode())]
    if inputs.ucode is not None:
        parts.append(("ucode.cpio", inputs.ucode.read_bytes()))
    with atomic_output(dest) as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in parts:
            if data:
                tar_member(tar, name, data, inputs.source_date_epoch)
    return [dest]


FORMATS: dict[str, Format] = {
    "kernel+initrd": Format("kernel+initrd", lambda n: (f"{n}-kernel", f"{n}-initrd.img", f"{n}-cmdline"),
                            write_kernel_initrd, help="kernel, initrd and command line (the default)"),
    "tar-kernel-initrd": Format("tar-kernel-initrd", lambda n: (f"{n}-initrd.tar",), write_tar_kernel_initrd,
                                help="kernel, initrd.img, cmdline (and ucode.cpio) in one tar"),
}
