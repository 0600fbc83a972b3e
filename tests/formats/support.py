"""Shared pieces of the format tests: the boot marker, the command line, BuildInputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lkcloud.formats import BuildInputs

MARKER = "LKCLOUD-FORMAT-OK"
CMDLINE = "console=ttyS0 quiet panic=-1"
MakeInputs = Callable[..., BuildInputs]


def inputs_at(base: Path, kernel: Path | None, initrd: Path | None, **overrides: object) -> BuildInputs:
    """BuildInputs writing under ``base/out`` with work files in ``base/work``."""
    fields: dict[str, object] = {
        "name": "test",
        "outdir": base / "out",
        "workdir": base / "work",
        "cmdline": CMDLINE,
        "kernel": kernel,
        "initrd": initrd,
    }
    fields.update(overrides)
    Path(str(fields["workdir"])).mkdir(parents=True, exist_ok=True)
    return BuildInputs(**fields)  # type: ignore[arg-type]


def content_digest(path: Path, length: int | None = None) -> str:
    """SHA-256 of a file's logical content (first ``length`` bytes), reading only its data:
    equal for equal bytes however the holes are allocated."""
    import hashlib

    from lkcloud.disk import sparse

    size = path.stat().st_size if length is None else length
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        for offset, run_length in sparse.data_map(fh, size):
            fh.seek(offset)
            digest.update(f"@{offset}+{run_length}".encode())
            digest.update(fh.read(run_length))
    return digest.hexdigest()
