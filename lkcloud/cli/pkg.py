"""``lkcloud pkg build DIR...``: build lkcloud packages (build.yml) from Debian, without Docker."""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud.cli import context
from lkcloud.cli.context import emit, reporter
from lkcloud.pkg.build import PackageOptions, PackageResult, build_packages
from lkcloud.settings import cache_dir, target_arch

pkg_app = typer.Typer(help="Build packages (images) from Debian packages, without Docker.", no_args_is_help=True)


def _root(result: PackageResult) -> str:
    """The digest the cache names the image by (as ``cache ls`` and ``build --json`` show it)."""
    return result.index_digest or result.digest


def _render(results: list[PackageResult]) -> str:
    lines = []
    for result in results:
        lines += [f"{ref} {_root(result)}" for ref in result.refs]
        lines += [f"pushed {ref}" for ref in result.pushed]
    return "\n".join(lines)


def _document(result: PackageResult) -> dict[str, object]:
    return {**context.to_jsonable(result), "digest": _root(result), "manifest_digest": result.digest}


@pkg_app.command("build")
def build(
    directories: list[Path] = typer.Argument(..., help="Package directories, each with a build.yml."),
    push: bool = typer.Option(False, "--push", help="Push the images to their registry too."),
    tag: str | None = typer.Option(None, "--tag", help="Use this tag instead of the content hash."),
    arch: str | None = typer.Option(None, "--arch", help="Target architecture: amd64 (x86_64) or arm64 (aarch64)"
                                                         " (default: LKCLOUD_ARCH, else this machine's)."),
    cache: Path | None = typer.Option(None, "--cache", help="Image cache directory."),
) -> None:
    """Build each package into the image cache, tagged with its content hash and its stable tag."""
    options = PackageOptions(cache=cache_dir(flag=cache), arch=str(target_arch(arch)), tag=tag, push=push)
    results = build_packages(directories, options, reporter())
    emit([_document(result) for result in results], lambda: _render(results),
         ids=[ref for result in results for ref in result.refs])


def register(app: typer.Typer) -> None:
    app.add_typer(pkg_app, name="pkg")
