"""``lkcloud validate FILE...``: check LinuxKit configs as one merged config."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from lkcloud.cli.context import emit
from lkcloud.spec import sources
from lkcloud.spec.dump import config_to_dict
from lkcloud.spec.load import load_files
from lkcloud.spec.model import Config


def summary(config: Config) -> str:
    """``docker.yml: valid: kernel, 4 init, 4 onboot, 5 services, 2 files``."""
    counts = [
        (len(config.init), "init"),
        (len(config.onboot), "onboot"),
        (len(config.onshutdown), "onshutdown"),
        (len(config.services), "services"),
        (len(config.files), "files"),
        (len(config.volumes), "volumes"),
    ]
    parts = (["kernel"] if config.kernel.image else []) + [f"{n} {what}" for n, what in counts if n]
    return f"{', '.join(config.sources)}: valid: {', '.join(parts) or 'empty'}"


ALLOW_HOST_FILES = typer.Option(False, "--allow-host-files",
                                help="Let files: source: read any regular host file, not only those beside the YAML.")


def allow_host_files(flag: bool) -> None:
    """``--allow-host-files``: the setting, for this process (a flag is the user's own word)."""
    if flag:
        os.environ[sources.ALLOW_HOST_FILES.env] = "1"


def validate(
    files: list[Path] = typer.Argument(..., help="LinuxKit YAML files, merged in order ('-': standard input)."),
    host_files: bool = ALLOW_HOST_FILES,
) -> None:
    """Check LinuxKit config files (merged in order); print the resolved config with --json."""
    allow_host_files(host_files)
    config = load_files(files)
    emit(config_to_dict(config), lambda: summary(config), ids=list(config.sources))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
