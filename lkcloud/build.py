"""``lkcloud build``: LinuxKit YAML in, output formats out.

CONTRACT STUB: the build-engine work implements :func:`build`; providers call it to build a
``.yml`` into the format they push.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lkcloud.progress import NULL, Reporter


@dataclass(frozen=True)
class BuildOptions:
    files: tuple[Path, ...]
    formats: tuple[str, ...] = ("kernel+initrd",)
    name: str | None = None  # defaults to the first file's base name
    outdir: Path = Path(".")
    arch: str = "amd64"
    cache: Path | None = None  # defaults to settings.cache_dir()
    pull: bool = False
    compression: str = "gzip"  # gzip | zstd | xz | none
    size: int | None = None  # disk size in bytes, where the format takes one


@dataclass(frozen=True)
class BuildResult:
    name: str
    outputs: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # format -> files
    digests: dict[str, str] = field(default_factory=dict)  # image ref -> manifest digest used


def build(options: BuildOptions, reporter: Reporter = NULL) -> BuildResult:
    """Build every requested format; the kernel+initrd is built once and shared."""
    raise NotImplementedError


def build_one(files: Sequence[Path], fmt: str, outdir: Path, reporter: Reporter = NULL) -> Path:
    """Build ``files`` into the single output file of ``fmt`` (what ``push`` does with a .yml)."""
    result = build(BuildOptions(files=tuple(files), formats=(fmt,), outdir=outdir), reporter)
    return result.outputs[fmt][0]
