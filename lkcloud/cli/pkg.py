"""``lkcloud pkg build DIR...``: build lkcloud packages (build.yml) from Debian, without Docker."""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud.cli import context
from lkcloud.cli.context import emit, reporter
from lkcloud.pkg.build import PackageOptions, PackageResult, build_packages
from lkcloud.platform import parse_arch
from lkcloud.settings import cache_dir

pkg_app = typer.Typer(help="Build packages (images) from Debian packages, without Docker.", no_args_is_help=True)


def _render(results: list[PackageResult]) -> str:
    lines = []
    for result in results:
        lines += [f"{ref} {result.digest}" for ref in result.refs]
        lines += [f"pushed {ref}" for ref in result.pushed]
    return "\n".join(lines)


@pkg_app.command("build")
def build(  # noqa: PLR0917 (typer maps parameters to options)
    directories: list[Path] = typer.Argument(..., help="Package directories, each with a build.yml."),
    push: bool = typer.Option(False, "--push", help="Push the images to their registry too."),
    tag: str | None = typer.Option(None, "--tag", help="Use this tag instead of the content hash."),
    arch: str = typer.Option("amd64", "--arch", help="Target architecture: amd64 (x86_64) or arm64 (aarch64)."),
    cache: Path | None = typer.Option(None, "--cache", help="Image cache directory."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable result on stdout."),
) -> None:
    """Build each package into the image cache, tagged with its content hash and its stable tag."""
    context.OPTIONS.json = context.OPTIONS.json or json_output
    options = PackageOptions(cache=cache_dir(flag=cache), arch=str(parse_arch(arch)), tag=tag, push=push)
    results = build_packages(directories, options, reporter())
    emit(results, lambda: _render(results))


def register(app: typer.Typer) -> None:
    app.add_typer(pkg_app, name="pkg")
