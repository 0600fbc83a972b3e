"""``lkcloud build FILE... [-f FORMAT]...``: LinuxKit YAML in, images out."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lkcloud import formats as format_table
from lkcloud.build import BuildOptions, build_arches
from lkcloud.cli.context import emit, reporter
from lkcloud.cli.validate import ALLOW_HOST_FILES, allow_host_files
from lkcloud.errors import UsageError

_SIZE = re.compile(r"^(\d+)([KMGT]?)i?B?$", re.IGNORECASE)
_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``1024M``, ``1G``, ``512`` (MiB, as LinuxKit's --size) -> bytes."""
    match = _SIZE.match(text.strip())
    if not match:
        raise UsageError(f"--size: cannot parse {text!r}", hint="use a number with an optional unit: 512M, 1G")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _format_help() -> str:
    return "Output format (repeatable): " + ", ".join(format_table.table()) + "."


def register(app: typer.Typer) -> None:
    format_help = _format_help()

    @app.command("build")
    def build_command(  # noqa: PLR0917 (typer maps parameters to options)
        files: list[Path] = typer.Argument(..., help="LinuxKit YAML files, merged in order ('-': standard input)."),
        formats: list[str] = typer.Option(["kernel+initrd"], "--format", "-f", help=format_help),
        name: str | None = typer.Option(None, "--name", help="Output base name (default: the first file's name)."),
        outdir: Path = typer.Option(Path("."), "--dir", help="Output directory (created if needed)."),
        arches: list[str] = typer.Option([], "--arch",
                                         help="Target architecture: amd64 or arm64 (default: LKCLOUD_ARCH, "
                                              "lkcloud.toml, else this machine's); repeat for a build per "
                                              "architecture, each named NAME-ARCH."),
        cache: Path | None = typer.Option(None, "--cache", help="Image cache directory (default: LKCLOUD_CACHE or "
                                                                "~/.lkcloud/cache)."),
        pull: bool = typer.Option(False, "--pull", help="Pull images even when cached."),
        compression: str = typer.Option("gzip", "--compression", help="Initrd compression: gzip, zstd, xz, none."),
        initrd_layout: str = typer.Option(
            "segmented", "--initrd-layout",
            help="segmented (one archive per component, each on a 512 KiB boundary) or stream (one archive)."),
        host_files: bool = ALLOW_HOST_FILES,
        size: str | None = typer.Option(None, "--size", help="Disk size for disk formats (e.g. 1G; a bare number "
                                                             "is MiB)."),
    ) -> None:
        """Build a LinuxKit configuration into kernel+initrd, tar or disk images."""
        allow_host_files(host_files)
        options = BuildOptions(files=tuple(files), formats=tuple(formats), name=name, outdir=outdir,
                               cache=cache, pull=pull, compression=compression, initrd_layout=initrd_layout,
                               size=parse_size(size) if size else None)
        results = build_arches(options, [part for arch in arches for part in arch.split(",") if part],
                               reporter())
        paths = [str(path) for result in results for path in result.paths]
        emit(results[0] if len(results) == 1 else results, lambda: "\n".join(paths), ids=paths)
