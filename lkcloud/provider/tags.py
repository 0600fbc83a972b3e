"""The tags lkcloud puts on everything it makes, spelled for each cloud's rules.

One vocabulary: ``lkcloud:managed`` (every resource lkcloud created), ``lkcloud:digest`` (the
content digest an image was made from), ``lkcloud:family`` (the image family prune groups by) and
``lkcloud:fleet``. AWS tags and Azure tags take the keys as they are; GCP labels allow only
lowercase letters, digits, ``_`` and ``-`` (keys start with a letter, values up to 63
characters), so there the colon becomes ``-`` and values are folded to those rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

MANAGED = "lkcloud:managed"
DIGEST = "lkcloud:digest"
FAMILY = "lkcloud:family"
FLEET = "lkcloud:fleet"
TRUE = "true"

_LABEL_OK = re.compile(r"[^a-z0-9_-]")


class Style(StrEnum):
    TAGS = "tags"  # AWS tags, Azure tags: keys up to 128 (AWS) / 512 (Azure) characters, colons allowed
    LABELS = "labels"  # GCP labels


def standard(digest: str | None = None, family: str | None = None,
             extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags of an image (or any resource): managed, plus digest and family when known."""
    values = {MANAGED: TRUE}
    if digest:
        values[DIGEST] = digest
    if family:
        values[FAMILY] = family
    return {**values, **(extra or {})}


def label_key(key: str) -> str:
    folded = _LABEL_OK.sub("-", key.lower().replace(":", "-"))
    return folded if folded[:1].isalpha() else f"k-{folded}"


def label_value(value: str) -> str:
    """A label value: ``sha256:abc`` becomes ``sha256-abc``; at most 63 characters."""
    return _LABEL_OK.sub("-", value.lower().replace(":", "-"))[:63]


def spell(values: Mapping[str, str], style: Style) -> dict[str, str]:
    """``values`` as the cloud writes them."""
    if style is Style.TAGS:
        return dict(values)
    return {label_key(key)[:63]: label_value(value) for key, value in values.items()}


def matches_digest(stored: str | None, digest: str, style: Style) -> bool:
    """Whether a stored tag or label value names ``digest`` (labels hold a truncated digest)."""
    if not stored:
        return False
    return stored == (digest if style is Style.TAGS else label_value(digest))
