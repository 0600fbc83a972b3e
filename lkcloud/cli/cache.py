"""``lkcloud cache ls | pull | rm | export | import``: the image cache (a LinuxKit-compatible OCI layout).

The cache directory is ``--cache DIR``, else ``LKCLOUD_CACHE``, else ``cache`` in lkcloud.toml,
else ``~/.lkcloud/cache``; a LinuxKit cache (``~/.linuxkit/cache``) works as is.
"""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud.cli import context
from lkcloud.cli.context import emit, reporter
from lkcloud.leftovers import prune
from lkcloud.oci.archive import ArchiveFormat, export, import_archive
from lkcloud.oci.inventory import CachedImage, cached_images
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from lkcloud.settings import cache_dir

cache_app = typer.Typer(help="The image cache: list, pull, remove, export and import images.", no_args_is_help=True)

CACHE = typer.Option(None, "--cache", help="Image cache directory (default: LKCLOUD_CACHE or ~/.lkcloud/cache).")
ARCH = typer.Option("amd64", "--arch", help="Target architecture (amd64, arm64).")
INSECURE = typer.Option(None, "--insecure-registry", help="Reach this registry (host[:port]) over plain HTTP.")
JSON = typer.Option(False, "--json", help="Machine-readable result on stdout.")


def _store(cache: Path | None, insecure: list[str] | None = None) -> ImageStore:
    return ImageStore(cache_dir(flag=cache), reporter=reporter(),
                      registry=RegistryOptions.from_settings(insecure=insecure))


def _json(flag: bool) -> None:
    context.OPTIONS.json = context.OPTIONS.json or flag


def _size(n: int) -> str:
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def _table(images: list[CachedImage]) -> str:
    rows = [(i.reference, i.digest[7:19], ",".join(i.platforms) or "-", _size(i.size)) for i in images]
    widths = [max([len(h), *(len(r[c]) for r in rows)]) for c, h in enumerate(("REFERENCE", "DIGEST", "PLATFORMS"))]
    header = ("REFERENCE", "DIGEST", "PLATFORMS", "SIZE")
    return "\n".join(
        "  ".join(cell.ljust(widths[c]) if c < 3 else cell for c, cell in enumerate(row)) for row in [header, *rows]
    )


@cache_app.command("ls")
def ls(cache: Path | None = CACHE, json_output: bool = JSON) -> None:
    """List the images in the cache."""
    _json(json_output)
    images = cached_images(_store(cache).layout)
    emit(images, lambda: _table(images) if images else "the cache is empty")


@cache_app.command("pull")
def pull(  # noqa: PLR0917 (typer maps parameters to options)
    refs: list[str] = typer.Argument(..., help="Image references."),
    arch: str = ARCH,
    force: bool = typer.Option(False, "--pull", help="Ask the registry even when the cache has the image."),
    insecure_registry: list[str] | None = INSECURE,
    cache: Path | None = CACHE,
    json_output: bool = JSON,
) -> None:
    """Bring images into the cache (offline first; ``--pull`` to refresh from the registry)."""
    _json(json_output)
    store = _store(cache, insecure_registry)
    images = [store.get(ref, arch=arch, pull=force) for ref in refs]
    emit(images, lambda: "\n".join(f"{i.reference} {i.manifest_digest}" for i in images))


@cache_app.command("rm")
def rm(
    refs: list[str] = typer.Argument(..., help="Image references to remove."),
    keep_blobs: bool = typer.Option(False, "--keep-blobs", help="Only untag; do not delete unreferenced blobs."),
    cache: Path | None = CACHE,
    json_output: bool = JSON,
) -> None:
    """Remove images from the cache, and the blobs nothing else uses."""
    _json(json_output)
    store = _store(cache)
    removed = [ref for ref in refs if store.remove(ref, prune=not keep_blobs)]
    missing = sorted(set(refs) - set(removed))
    emit({"removed": removed, "missing": missing},
         lambda: "\n".join([f"removed {r}" for r in removed] + [f"not in the cache: {r}" for r in missing]))


@cache_app.command("export")
def export_cmd(  # noqa: PLR0917 (typer maps parameters to options)
    refs: list[str] = typer.Argument(..., help="Image references to export."),
    output: Path = typer.Option(..., "--output", "-o", help="Archive file to write."),
    fmt: ArchiveFormat = typer.Option(ArchiveFormat.OCI, "--format", help="oci (layout tar) or docker (docker load)."),
    arch: str = ARCH,
    cache: Path | None = CACHE,
    json_output: bool = JSON,
) -> None:
    """Write cached images to an OCI-layout or docker-save archive."""
    _json(json_output)
    names = export(_store(cache), refs, output, fmt=fmt, arch=arch)
    emit({"archive": output, "format": fmt, "images": names}, f"wrote {output} ({fmt}): {', '.join(names)}")


@cache_app.command("import")
def import_cmd(
    archive: Path = typer.Argument(..., help="An OCI-layout or docker-save archive (tar, may be gzipped)."),
    ref: str | None = typer.Option(None, "--ref", help="Name for the image (archives with one image)."),
    cache: Path | None = CACHE,
    json_output: bool = JSON,
) -> None:
    """Load images from an archive into the cache."""
    _json(json_output)
    names = import_archive(_store(cache), archive, ref=ref)
    emit({"archive": archive, "images": names}, "\n".join(f"imported {n}" for n in names))


@cache_app.command("prune")
def prune_cmd(
    dirs: list[Path] = typer.Option([Path(".")], "--dir", help="A build output directory to sweep too (repeatable)."),
    cache: Path | None = CACHE,
    json_output: bool = JSON,
) -> None:
    """Remove what killed runs left (temporary files, build directories, a day old) and unused blobs."""
    _json(json_output)
    pruned = prune(cache_dir(flag=cache), dirs)
    emit(pruned, pruned.summary, ids=lambda: [str(p) for p in pruned.leftovers] + pruned.blobs)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
