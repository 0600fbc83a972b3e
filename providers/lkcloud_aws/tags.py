"""The tags lkcloud puts on everything it makes: how it finds its own resources again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MANAGED = "lkcloud:managed"  # "true" on every resource lkcloud created
DIGEST = "lkcloud:digest"  # sha256 of the image file the resource was made from
FAMILY = "lkcloud:family"  # the image's family (build name): prune keeps the newest N per family
FLEET = "lkcloud:fleet"


def tag_list(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags or ()}


def specs(resource_types: Iterable[str], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """TagSpecifications for ``resource_types``."""
    return [{"ResourceType": kind, "Tags": tag_list(values)} for kind in resource_types]


def build_tags(digest: str, family: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {MANAGED: "true", DIGEST: digest, FAMILY: family, **(extra or {})}
