"""One prune policy: per family, the newest N stay, and so does every image in use."""

from __future__ import annotations

import dataclasses

import pytest

from lkcloud.errors import UsageError
from lkcloud.provider.prune import plan_prune
from lkcloud.provider.types import ImageRecord


def record(id: str, family: str, created: str, in_use: bool = False) -> ImageRecord:
    return ImageRecord("test", id, id, created, family=family, in_use=in_use)


RECORDS = [record("a1", "a", "2026-01-01"), record("a2", "a", "2026-01-02"), record("a3", "a", "2026-01-03"),
           record("b1", "b", "2026-01-01", in_use=True), record("b2", "b", "2026-01-02"),
           record("b3", "b", "2026-01-03")]


def test_keeps_the_newest_per_family() -> None:
    plan = plan_prune(RECORDS, keep=2)
    assert [r.id for r in plan.remove] == ["a1"]
    assert [r.id for r in plan.in_use] == ["b1"]
    assert sorted(r.id for r in plan.keep) == ["a2", "a3", "b2", "b3"]


def test_in_use_ids_from_outside_are_kept_too() -> None:
    plan = plan_prune(RECORDS, keep=1, in_use={"a1"})
    assert sorted(r.id for r in plan.remove) == ["a2", "b2"]
    assert sorted(r.id for r in plan.in_use) == ["a1", "b1"]


def test_keep_at_least_one() -> None:
    with pytest.raises(UsageError, match="--keep 0"):
        plan_prune(RECORDS, keep=0)


def test_each_architecture_of_a_family_keeps_its_newest() -> None:
    records = [dataclasses.replace(record("x1", "x", "2026-01-01"), arch="amd64"),
               dataclasses.replace(record("x2", "x", "2026-01-02"), arch="arm64"),
               dataclasses.replace(record("x3", "x", "2026-01-03"), arch="amd64")]
    plan = plan_prune(records, keep=1)
    assert [r.id for r in plan.remove] == ["x1"] and sorted(r.id for r in plan.keep) == ["x2", "x3"]
