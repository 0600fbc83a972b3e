"""lkcloud's tag vocabulary (:mod:`lkcloud.provider.tags`) in the shapes the AWS APIs take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lkcloud.provider.tags import DIGEST, FAMILY, FLEET, MANAGED, TRUE, Style, spell, standard

__all__ = ["DIGEST", "FAMILY", "FLEET", "MANAGED", "PARENT", "TRUE", "specs", "standard", "tag_dict", "tag_list"]

PARENT = "lkcloud:parent"  # on a snapshot: the snapshot it was started on ("none" for a full one)


def tag_list(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in spell(values, Style.TAGS).items()]


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags or ()}


def specs(resource_types: Iterable[str], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """TagSpecifications for ``resource_types``."""
    return [{"ResourceType": kind, "Tags": tag_list(values)} for kind in resource_types]
