"""One tag vocabulary, spelled for each cloud."""

from __future__ import annotations

from lkcloud.provider import tags

DIGEST = "sha256:" + "ab" * 32


def test_tags_keep_the_keys() -> None:
    values = tags.standard(DIGEST, "hello")
    assert tags.spell(values, tags.Style.TAGS) == {"lkcloud:managed": "true", "lkcloud:digest": DIGEST,
                                                    "lkcloud:family": "hello"}


def test_labels_follow_gcp_rules() -> None:
    labels = tags.spell(tags.standard(DIGEST, "Hello.World"), tags.Style.LABELS)
    assert labels["lkcloud-managed"] == "true" and labels["lkcloud-family"] == "hello-world"
    assert labels["lkcloud-digest"] == ("sha256-" + "ab" * 32)[:63]
    assert all(len(v) <= 63 for v in labels.values())
    assert tags.matches_digest(labels["lkcloud-digest"], DIGEST, tags.Style.LABELS)
    assert not tags.matches_digest(labels["lkcloud-digest"], "sha256:" + "cd" * 32, tags.Style.LABELS)
