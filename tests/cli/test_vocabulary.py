"""One vocabulary on every provider (issue 14): the provider verbs are the core's, so the shared
options are spelled the same everywhere; each cloud's own word for a machine type is an alias."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from lkcloud.cli.app import app
from lkcloud.provider.registry import PROVIDERS

ROOT: Any = typer.main.get_command(app)


def options(*path: str) -> set[str]:
    command = ROOT
    for name in path:
        command = command.commands[name]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


SHARED = {
    ("push",): {"--name", "--family", "--arch", "--boot-mode"},
    ("run",): {"--instance-type", "--count", "--data", "--data-file", "--arch", "--console", "--name"},
    ("fleet", "create"): {"--image", "--size", "--instance-type", "--data", "--data-file", "--arch"},
    ("fleet", "scale"): {"--size"},
    ("fleet", "refresh"): {"--image", "--canary", "--pause", "--min-healthy", "--warmup", "--max-surge",
                           "--max-unavailable", "--arch"},
    ("fleet", "delete"): {"--yes"},
    ("images", "prune"): {"--keep", "--family", "--dry-run", "--yes"},
}
ALIASES = {"gcp": "--machine-type", "azure": "--vm-size"}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("verb", sorted(SHARED), ids=" ".join)
def test_shared_options_are_spelled_the_same(provider: str, verb: tuple[str, ...]) -> None:
    assert SHARED[verb] <= options(*verb, provider)


@pytest.mark.parametrize("provider", sorted(ALIASES))
def test_the_clouds_own_word_for_a_machine_type_is_an_alias(provider: str) -> None:
    for verb in (("run",), ("fleet", "create")):
        assert {"--instance-type", ALIASES[provider]} <= options(*verb, provider)


def test_push_all_takes_several_architectures() -> None:
    assert {"--to", "--arch", "--name"} <= options("push", "all")
