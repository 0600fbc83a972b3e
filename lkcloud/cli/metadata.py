"""``lkcloud metadata create|show``: compose and inspect LinuxKit user data."""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud import metadata
from lkcloud.cli.context import emit, say
from lkcloud.errors import UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.metadata_build import create as create_tree

metadata_app = typer.Typer(help="Compose and inspect LinuxKit user data (/run/config).", no_args_is_help=True)


@metadata_app.command("create")
def create(
    entry: list[str] = typer.Option([], "--entry", help="PATH=TEXT: a file under /run/config."),
    file: list[str] = typer.Option([], "--file", help="PATH=LOCALFILE[:MODE]: a local file's content."),
    from_yaml: Path | None = typer.Option(None, "--from", help="A YAML tree: text is a file, a mapping a directory."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write here (default: stdout)."),
    provider: str | None = typer.Option(None, "--provider", help="Check the size limit of aws, gcp, azure, qemu."),
) -> None:
    """Build LinuxKit user-data JSON from arguments or a YAML tree."""
    nodes = create_tree(entry, file, from_yaml)
    raw = metadata.encode(nodes)
    if provider is not None:
        if provider not in metadata.LIMITS:
            raise UsageError(f"unknown provider {provider!r}", hint="choose aws, gcp, azure or qemu")
        metadata.check_size(raw, provider)
    if output is None:
        typer.echo(raw.decode())
        return
    with atomic_output(output, mode=0o600) as fh:
        fh.write(raw + b"\n")
    say(f"wrote {output} ({len(raw)} bytes)")
    emit({"path": str(output), "bytes": len(raw)}, None)


@metadata_app.command("show")
def show(path: Path = typer.Argument(..., help="A user-data JSON file.")) -> None:
    """Print the /run/config tree a user-data file becomes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    nodes = metadata.parse(raw, str(path))
    emit(metadata.to_document(nodes), metadata.render(nodes))


def register(app: typer.Typer) -> None:
    app.add_typer(metadata_app, name="metadata")
