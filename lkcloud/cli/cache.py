"""``lkcloud cache ls | pull | rm | export | import``: the image cache (a LinuxKit-compatible OCI layout).

The cache directory is ``--cache DIR``, else ``LKCLOUD_CACHE``, else ``cache`` in lkcloud.toml,
else ``~/.lkcloud/cache``; a LinuxKit cache (``~/.linuxkit/cache``) works as is.
"""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud.cli import context
from lkcloud.cli.context import STDIO, binary_stdout, check_input, check_output, emit, reporter, spooled_stdin
from lkcloud.errors import ImageNotFoundError
from lkcloud.leftovers import prune
from lkcloud.oci.archive import ArchiveFormat, export, import_archive
from lkcloud.oci.inventory import CachedImage, cached_images
from lkcloud.oci.reference import parse
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from lkcloud.settings import cache_dir, target_arch

cache_app = typer.Typer(help="The image cache: list, pull, remove, export and import images.", no_args_is_help=True)

CACHE = typer.Option(None, "--cache", help="Image cache directory (default: LKCLOUD_CACHE or ~/.lkcloud/cache).")
ARCH = typer.Option(None, "--arch", help="Target architecture: amd64 or arm64 (default: LKCLOUD_ARCH, this machine's).")
INSECURE = typer.Option(None, "--insecure-registry", help="Reach this registry (host[:port]) over plain HTTP.")


def _store(cache: Path | None, insecure: list[str] | None = None) -> ImageStore:
    return ImageStore(cache_dir(flag=cache), reporter=reporter(),
                      registry=RegistryOptions.from_settings(insecure=insecure))


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
def ls(cache: Path | None = CACHE) -> None:
    """List the images in the cache."""
    images = cached_images(_store(cache).layout)
    emit(images, lambda: _table(images) if images else "the cache is empty", ids=[i.reference for i in images])


@cache_app.command("pull")
def pull(
    refs: list[str] = typer.Argument(..., help="Image references."),
    arch: str | None = ARCH,
    force: bool = typer.Option(False, "--pull", help="Ask the registry even when the cache has the image."),
    insecure_registry: list[str] | None = INSECURE,
    cache: Path | None = CACHE,
) -> None:
    """Bring images into the cache (offline first; ``--pull`` to refresh from the registry)."""
    names = [str(parse(ref)) for ref in refs]  # every reference checked before the first pull
    target = target_arch(arch)
    store = _store(cache, insecure_registry)
    images = [store.get(name, arch=target, pull=force) for name in names]
    emit([{"reference": i.reference, "digest": i.index_digest or i.manifest_digest,
           "manifest_digest": i.manifest_digest} for i in images],
         lambda: "\n".join(f"{i.reference} {i.index_digest or i.manifest_digest}" for i in images),
         ids=[i.reference for i in images])


@cache_app.command("rm")
def rm(
    refs: list[str] = typer.Argument(..., help="Image references to remove."),
    keep_blobs: bool = typer.Option(False, "--keep-blobs", help="Only untag; do not delete unreferenced blobs."),
    cache: Path | None = CACHE,
) -> None:
    """Remove images from the cache, and the blobs nothing else uses (exit 1 if one is absent)."""
    names = [str(parse(ref)) for ref in refs]
    store = _store(cache)
    missing = [name for name in names if store.layout.find(name) is None]  # found without writing anything
    removed = [name for name in names if name not in missing and store.remove(name, prune=not keep_blobs)]
    emit({"removed": removed, "missing": missing}, "\n".join(f"removed {r}" for r in removed), ids=removed)
    if missing:  # as `docker rmi`: what could be removed is, and the command fails for the rest
        if context.OPTIONS.json:
            raise typer.Exit(1)  # the result above names them
        raise ImageNotFoundError(f"not in the cache at {store.root}: {', '.join(missing)}",
                                 hint="'lkcloud cache ls' lists the cached images")


@cache_app.command("export")
def export_cmd(
    refs: list[str] = typer.Argument(..., help="Image references to export."),
    output: Path = typer.Option(..., "--output", "-o", help="Archive file to write ('-': standard output)."),
    fmt: ArchiveFormat = typer.Option(ArchiveFormat.OCI, "--format", help="oci (layout tar) or docker (docker load)."),
    arch: str | None = ARCH,
    cache: Path | None = CACHE,
) -> None:
    """Write cached images to an OCI-layout or docker-save archive."""
    names = [str(parse(ref)) for ref in refs]
    check_output(output, "--output")
    target = target_arch(arch)
    store = _store(cache)
    sink = binary_stdout("--output") if str(output) == STDIO else output
    names = export(store, names, sink, fmt=fmt, arch=target)
    if sink is output:
        emit({"archive": output, "format": fmt, "images": names}, f"wrote {output} ({fmt}): {', '.join(names)}",
             ids=[str(output)])


@cache_app.command("import")
def import_cmd(
    archive: Path = typer.Argument(..., help="An OCI-layout or docker-save archive (tar, may be gzipped); '-': stdin."),
    ref: str | None = typer.Option(None, "--ref", help="Name for the image (archives with one image)."),
    cache: Path | None = CACHE,
) -> None:
    """Load images from an archive into the cache (``docker save IMG | lkcloud cache import -``)."""
    check_input(archive)
    if ref is not None:
        parse(ref)
    store = _store(cache)
    if str(archive) == STDIO:
        with spooled_stdin(store.root) as spool:
            names = import_archive(store, spool, ref=ref, name="<stdin>")
    else:
        names = import_archive(store, archive, ref=ref)
    emit({"archive": archive, "images": names}, "\n".join(f"imported {n}" for n in names), ids=names)


@cache_app.command("prune")
def prune_cmd(
    dirs: list[Path] = typer.Option([Path(".")], "--dir", help="A build output directory to sweep too (repeatable)."),
    cache: Path | None = CACHE,
) -> None:
    """Remove what killed runs left (temporary files, build directories, a day old) and unused blobs."""
    pruned = prune(cache_dir(flag=cache), dirs)
    emit(pruned, pruned.summary, ids=lambda: [str(p) for p in pruned.leftovers] + pruned.blobs)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
