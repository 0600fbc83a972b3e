"""``lkcloud metadata create|show``: compose and inspect LinuxKit user data."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lkcloud.cli.context import STDIO, check_input, check_output, emit, say
from lkcloud.errors import UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.userdata import tree as metadata
from lkcloud.userdata.compose import create as create_tree

metadata_app = typer.Typer(help="Compose and inspect LinuxKit user data (/run/config).", no_args_is_help=True)


def _paths(nodes: tuple[metadata.Node, ...], prefix: str = "/run/config") -> list[str]:
    """Every file and directory of the tree, as a path under /run/config."""
    found = []
    for node in nodes:
        path = f"{prefix}/{node.name}"
        found.append(path)
        found += _paths(node.children, path)
    return found


@metadata_app.command("create")
def create(
    entry: list[str] = typer.Option([], "--entry", help="PATH=TEXT: a file under /run/config (repeatable)."),
    file: list[str] = typer.Option([], "--file", help="PATH=LOCALFILE[:MODE]: a local file's content (repeatable)."),
    from_yaml: Path | None = typer.Option(None, "--from", help="A YAML tree: text is a file, a mapping a directory."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write here (default or '-': standard output)."),
    provider: str | None = typer.Option(None, "--provider", help="Check the size limit of aws, gcp, azure, qemu."),
) -> None:
    """Build LinuxKit user-data JSON from arguments or a YAML tree."""
    if provider is not None and provider not in metadata.LIMITS:
        raise UsageError(f"--provider: unknown provider {provider!r}", hint="choose aws, gcp, azure or qemu")
    if from_yaml is not None:
        check_input(from_yaml, "--from")
    if output is not None:
        check_output(output, "--output")
    nodes = create_tree(entry, file, from_yaml)
    raw = metadata.encode(nodes)
    if provider is not None:
        metadata.check_size(raw, provider)
    if output is None or str(output) == STDIO:
        typer.echo(raw.decode())
        return
    with atomic_output(output, mode=0o600) as fh:
        fh.write(raw + b"\n")
    say(f"wrote {output} ({len(raw)} bytes)")
    emit({"path": str(output), "bytes": len(raw)}, None, ids=[str(output)])


@metadata_app.command("show")
def show(path: Path = typer.Argument(..., help="A user-data JSON file ('-': standard input).")) -> None:
    """Print the /run/config tree a user-data file becomes."""
    check_input(path)
    try:
        raw = sys.stdin.buffer.read() if str(path) == STDIO else path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    nodes = metadata.parse(raw, "<stdin>" if str(path) == STDIO else str(path))
    emit(metadata.to_document(nodes), metadata.render(nodes), ids=_paths(nodes))


def register(app: typer.Typer) -> None:
    app.add_typer(metadata_app, name="metadata")
