"""Incremental page-blob uploads into Azurite behind a proxy that makes copies asynchronous (as
Azure's Copy Blob is): what is sent, what the new blob reads back, and resuming after a kill."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lkcloud.artifact import file_digest
from lkcloud.errors import LkcloudError, UsageError
from lkcloud.provider.blocks import BLOCK
from lkcloud_azure.incremental import NONE, Lineage
from lkcloud_azure.upload import PageBlobUploader, UploadResult
from lkcloud_azure.vhd import check
from tests.providers.azure.conftest import FAST_CALLS
from tests.providers.azure.test_upload import PAGE_PUTS, blob_service, stored_spans
from tests.providers.azure.vhds import MIB, make_vhd, nonzero_spans
from tests.servers.azurite_copy import AsyncCopyProxy
from tests.servers.faultproxy import FaultProxy, Faults

pytestmark = [pytest.mark.emulator]
KIB = 1024


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """24 MiB with data in blocks 0-1, 7-9 and 40 (and the footer's block 48)."""
    extents = ((0, 1 * MIB), (3 * MIB + 512 * KIB, 1 * MIB + 64 * KIB), (20 * MIB, 128 * KIB))
    return make_vhd(tmp_path / "old.vhd", 24, extents)


def patch(source: Path, target: Path, writes: dict[int, bytes], zeros: tuple[tuple[int, int], ...]) -> Path:
    shutil.copyfile(source, target)
    with target.open("r+b") as fh:
        for offset, data in writes.items():
            fh.seek(offset)
            fh.write(data)
        for offset, length in zeros:
            fh.seek(offset)
            fh.write(bytes(length))
    return target


@pytest.fixture
def new(old: Path, tmp_path: Path) -> Path:
    """``old`` changed in block 0, emptied in block 7, half emptied in block 8, new data in block 24."""
    return patch(old, tmp_path / "new.vhd", {100 * KIB: b"\x07" * 4096, 12 * MIB: b"\x09" * (64 * KIB)},
                 ((3 * MIB + 512 * KIB, 512 * KIB), (4 * MIB, 128 * KIB)))


def blob_name(path: Path) -> str:
    return f"web-{file_digest(path)[7:23]}.vhd"


def push(url: str, container: str, path: Path, cwd: Path, *, parent: str | None = None,
         concurrency: int = 4, arch: str = "amd64") -> UploadResult:
    uploader = PageBlobUploader(blob_service(url), container, FAST_CALLS, concurrency, wait_seconds=20)
    lineage = Lineage("web", "web-", parent, arch=arch, cwd=cwd)
    return uploader.upload(check(path), blob_name(path), file_digest(path), lineage=lineage)


def reads_back(url: str, container: str, path: Path) -> bool:
    blob: Any = blob_service(url).get_blob_client(container, blob_name(path))  # type: ignore[attr-defined]
    return bool(blob.download_blob().readall() == path.read_bytes() and stored_spans(blob) == nonzero_spans(path))


def changed_bytes(path: Path, indices: tuple[int, ...]) -> int:
    """The non-zero bytes of ``path`` in those blocks (the test data is aligned to 64 KiB granules)."""
    return sum(min(end, (i + 1) * BLOCK) - max(start, i * BLOCK) for i in indices
               for start, end in nonzero_spans(path) if start < (i + 1) * BLOCK and end > i * BLOCK)


@pytest.fixture
def copies(azurite_url: str) -> Iterator[AsyncCopyProxy]:
    with AsyncCopyProxy(azurite_url, polls=3) as proxy:
        yield proxy


def test_the_second_push_copies_the_first_and_writes_only_what_changed(
        copies: AsyncCopyProxy, container: str, old: Path, new: Path, tmp_path: Path) -> None:
    first = push(copies.url, container, old, tmp_path)
    assert first.how["mode"] == "full" and "no earlier amd64 blob of family web" in first.how["why"]
    second = push(copies.url, container, new, tmp_path)
    assert second.how | {"bytes_read": 0} == {
        "mode": "incremental", "parent": blob_name(old), "base": "manifest", "resumed": False, "block_size": BLOCK,
        "blocks_written": 3, "blocks_cleared": 1, "blocks_unchanged": 4, "bytes_read": 0}
    assert second.parent is not None and second.parent.endswith(f"/{container}/{blob_name(old)}")
    assert second.bytes_sent == changed_bytes(new, (0, 8, 24)) < first.bytes_sent // 2
    assert copies.copy_stats["copies"] == 1 and copies.copy_stats["pending_polls"] == 3
    assert copies.copy_stats["refused"] == 0  # nothing was written before the copy was done
    assert reads_back(copies.url, container, new) and reads_back(copies.url, container, old)
    assert push(copies.url, container, new, tmp_path).reused


def test_a_killed_incremental_push_resumes_without_copying_again(
        copies: AsyncCopyProxy, container: str, old: Path, new: Path, tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    with FaultProxy(copies.url, Faults(match=PAGE_PUTS, fail_after=2)) as killer, pytest.raises(LkcloudError):
        push(killer.url, container, new, tmp_path, concurrency=1)
    assert copies.copy_stats["copies"] == 1
    resumed = push(copies.url, container, new, tmp_path)
    assert resumed.how["mode"] == "incremental" and resumed.how["resumed"] and resumed.how["base"] == "manifest"
    assert copies.copy_stats["copies"] == 1  # the copy was not made again
    assert reads_back(copies.url, container, new)


def test_killed_while_the_copy_is_pending_waits_for_it_then_goes_on(
        copies: AsyncCopyProxy, container: str, old: Path, new: Path, tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    polls = rf"^HEAD .*/{blob_name(new)}$"
    with FaultProxy(copies.url, Faults(match=polls, fail_after=2)) as killer, pytest.raises(LkcloudError):
        push(killer.url, container, new, tmp_path)
    assert copies.pending(f"/devstoreaccount1/{container}/{blob_name(new)}")
    resumed = push(copies.url, container, new, tmp_path)
    assert resumed.how["resumed"] and copies.copy_stats["copies"] == 1 and copies.copy_stats["refused"] == 0
    assert reads_back(copies.url, container, new)


def test_a_release_builds_on_one_of_its_own_architecture(copies: AsyncCopyProxy, container: str, old: Path,
                                                        new: Path, tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path, arch="arm64")
    first = push(copies.url, container, new, tmp_path)
    assert first.how["mode"] == "full" and "no earlier amd64 blob" in first.how["why"]


def test_without_a_manifest_the_parent_is_read_back(copies: AsyncCopyProxy, container: str, old: Path, new: Path,
                                                    tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    shutil.rmtree(tmp_path / ".lkcloud" / "manifests")
    second = push(copies.url, container, new, tmp_path)
    assert second.how["mode"] == "incremental" and second.how["base"] == "read back"
    assert second.how["bytes_read"] == 5 * BLOCK + 512  # blocks 0, 1, 8, 9, 40 and the footer's: data in both
    assert second.bytes_sent == changed_bytes(new, (0, 8, 24))
    assert reads_back(copies.url, container, new)


def test_a_parent_changed_since_its_manifest_is_read_back(copies: AsyncCopyProxy, container: str, old: Path,
                                                          new: Path, tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    parent: Any = blob_service(copies.url).get_blob_client(container, blob_name(old))  # type: ignore[attr-defined]
    parent.upload_page(b"\x05" * 512, offset=2 * MIB, length=512)  # someone wrote to it: a new ETag
    second = push(copies.url, container, new, tmp_path)
    assert second.how["base"] == "read back"
    assert reads_back(copies.url, container, new)


def test_parent_none_is_a_full_upload(copies: AsyncCopyProxy, container: str, old: Path, new: Path,
                                      tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    second = push(copies.url, container, new, tmp_path, parent=NONE)
    assert second.how == {"mode": "full", "resumed": False, "why": "--parent none"} and second.parent is None
    assert copies.copy_stats["copies"] == 0 and reads_back(copies.url, container, new)


def test_a_named_parent_must_exist(copies: AsyncCopyProxy, container: str, new: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=rf"--parent web-0\.vhd: no such blob in container {container}"):
        push(copies.url, container, new, tmp_path, parent="web-0.vhd")


@pytest.mark.parametrize("case", [("failed", r"ended failed: 500 InternalError"),
                                  ("refused", r"the copy was refused: .*\(CannotVerifyCopySource\)$")])
def test_a_failed_copy_falls_back_to_a_full_upload(azurite_url: str, container: str, old: Path, new: Path,
                                                   case: tuple[str, str]) -> None:
    outcome, why = case
    with AsyncCopyProxy(azurite_url, polls=1, outcome=outcome) as failing:
        push(failing.url, container, old, new.parent)
        second = push(failing.url, container, new, new.parent)
        assert second.how["mode"] == "full" and re.search(why, second.how["why"]), second.how
        assert second.parent is None and reads_back(failing.url, container, new)


def test_a_grown_disk_is_copied_then_resized(copies: AsyncCopyProxy, container: str, old: Path,
                                             tmp_path: Path) -> None:
    push(copies.url, container, old, tmp_path)
    extents = ((0, 1 * MIB), (3 * MIB + 512 * KIB, 1 * MIB + 64 * KIB), (20 * MIB, 128 * KIB), (30 * MIB, 64 * KIB))
    grown = make_vhd(tmp_path / "grown.vhd", 32, extents)  # the same seed: the same bytes where both have data
    second = push(copies.url, container, grown, tmp_path)
    assert second.how["mode"] == "incremental" and second.how["blocks_unchanged"] >= 5
    assert reads_back(copies.url, container, grown)
