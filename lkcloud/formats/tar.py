"""``tar`` (the root filesystem tar) and ``docker`` (the same with a Dockerfile, for docker import)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from lkcloud.formats import BuildInputs, Format
from lkcloud.formats.kernel_initrd import copy, need, tar_member
from lkcloud.fsutil import atomic_path
from lkcloud.progress import Reporter

DOCKERFILE = b'\nFROM scratch\n\nCOPY . ./\n\nENTRYPOINT ["/bin/rc.init"]\n'


def write_tar(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    return [copy(need(inputs.rootfs_tar, "root filesystem tar"), inputs.outdir / f"{inputs.name}.tar")]


def write_docker(inputs: BuildInputs, reporter: Reporter) -> list[Path]:
    dest = inputs.outdir / f"{inputs.name}.docker"
    with atomic_path(dest) as tmp:
        shutil.copyfile(need(inputs.rootfs_tar, "root filesystem tar"), tmp)
        with tarfile.open(tmp, mode="a", format=tarfile.PAX_FORMAT) as tar:
            tar_member(tar, "Dockerfile", DOCKERFILE, inputs.source_date_epoch)
    return [dest]


FORMATS: dict[str, Format] = {
    "tar": Format("tar", lambda n: (f"{n}.tar",), write_tar, needs_kernel=False, needs_rootfs=True,
                  help="the root filesystem as a tar"),
    "docker": Format("docker", lambda n: (f"{n}.docker",), write_docker, needs_kernel=False, needs_rootfs=True,
                     help="the root filesystem tar with a Dockerfile, for docker import/build"),
}
