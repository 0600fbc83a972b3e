"""Incremental uploads: a new page blob made by a server-side copy of the family's previous one,
then only the 512 KiB blocks that differ written, and the blocks that became zeros cleared.

What the previous blob holds is known from its block manifest (:mod:`lkcloud.provider.manifests`,
in ``.lkcloud/manifests/azure`` of the working directory), written when it was pushed and keyed
by the blob and its ETag: a blob written since has no manifest.
Without one, the blob's page ranges are listed and, where both disks have data, its blocks are
read back and hashed ("read back"). With no earlier blob of the family, or ``--parent none``, the
upload is a full one. Every upload leaves a manifest for the next.

Copy Blob "can finish asynchronously" (https://learn.microsoft.com/rest/api/storageservices/copy-blob):
the new blob is polled until its ``x-ms-copy-status`` is ``success`` before anything is written
to it (a write to a blob with a pending copy fails with 409 ``PendingCopyOperation``,
https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes); a copy that
fails, is aborted or is refused falls back to a full upload. The copy is conditional on the source's ETag,
so the blob copied is the one the manifest (or the read-back) describes.

Resuming: the new blob's metadata names its parent and the parent's ETag. A rerun that finds it
incomplete does not copy again: it writes what differs from the parent again (a few percent of
the image), or, without the parent's manifest, reads the interrupted blob back and writes what
differs from it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core import MatchConditions

from lkcloud.errors import LkcloudError, ProviderError, UsageError
from lkcloud.progress import Reporter
from lkcloud.provider import blocks
from lkcloud.provider.blocks import BLOCK
from lkcloud.provider.manifests import BlockManifest, ManifestStore
from lkcloud.state import STATE_DIR
from lkcloud_azure.calls import DataRoleMissing, find
from lkcloud_azure.upload import (
    ARCH_KEY,
    COMPLETE_KEY,
    DIGEST_KEY,
    FAMILY_KEY,
    PAGE,
    PARENT_ETAG_KEY,
    PARENT_KEY,
    Op,
    PageBlobUploader,
    Span,
    UploadResult,
    data_spans,
)
from lkcloud_azure.vhd import FixedVhd

NONE = "none"  # --parent none: a full upload
UNKNOWN = b"?"  # a block the base holds data in, not read: never taken as unchanged


@dataclass(frozen=True)
class Lineage:
    """What an upload may build on: its family, and what ``--parent`` said."""

    family: str
    prefix: str  # the family's blob names are PREFIX + 16 hex digits + ".vhd"
    parent: str | None = None  # a blob in the container, NONE, or None: the family's newest
    arch: str = "amd64"  # of the image: only blobs of the same architecture are built on
    cwd: Path | None = None  # the directory whose .lkcloud/manifests/azure holds the manifests (default: here)

    def store(self) -> ManifestStore:
        return ManifestStore((self.cwd or Path.cwd()) / STATE_DIR / "manifests" / "azure")

    def is_family_blob(self, name: str) -> bool:
        return re.fullmatch(re.escape(self.prefix) + r"[0-9a-f]{16}\.vhd", name) is not None


@dataclass(frozen=True)
class Base:
    """The blob an incremental upload copies, and what its blocks hold."""

    name: str
    etag: str
    blocks: dict[int, bytes]  # block index -> SHA-256, or UNKNOWN; blocks without data left out
    source: str  # "manifest", "read back"
    bytes_read: int = 0


def etag(value: object) -> str:
    """An ETag in one spelling, quoted: listings give it bare, Get Blob Properties quoted."""
    return f'"{str(value).strip(chr(34))}"'


class CopyFailed(ProviderError):
    """The server-side copy did not happen: the upload goes on as a full one."""


@dataclass
class Job:
    """One upload that may build on an earlier blob."""

    up: PageBlobUploader
    blob: Any
    image: FixedVhd
    digest: str  # hex, as the blob's metadata records it
    lineage: Lineage
    reporter: Reporter
    new: dict[int, bytes] = field(default_factory=dict)  # the image's block digests
    store: ManifestStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = self.lineage.store()

    @property
    def name(self) -> str:
        return str(self.blob.blob_name)

    def key(self, name: str, version: str) -> str:
        """A manifest's key: the blob wherever it is reached from, and its ETag."""
        return f"{self.up.key(name)}@{etag(version)}"

    def manifest(self, name: str, props: Any) -> BlockManifest | None:
        """The manifest of blob ``name`` as it is now (its ETag), if it names the blob's content."""
        key = self.key(name, props.etag)
        manifest = self.store.load(key)
        if manifest is None:
            return None
        if (manifest.digest, manifest.size, manifest.block_size) == (
                f"sha256:{(props.metadata or {}).get(DIGEST_KEY)}", props.size, BLOCK):
            return manifest
        self.store.remove(key)
        return None

    def remember(self, version: str) -> None:
        self.store.save(BlockManifest(self.key(self.name, version), f"sha256:{self.digest}", self.lineage.family,
                                      self.image.size, BLOCK, self.new))


def upload(job: Job, found: Any) -> UploadResult:
    """The job's image into its blob; ``found`` is the blob's properties when it holds this
    content already (complete, or an interrupted upload), else None."""
    metadata = {DIGEST_KEY: job.digest, FAMILY_KEY: job.lineage.family, ARCH_KEY: job.lineage.arch}
    if found is not None and found.metadata.get(COMPLETE_KEY) == "true":
        if job.manifest(job.name, found) is None:
            job.new = blocks.scan(job.image.path, job.image.size)
            job.remember(etag(found.etag))
        return UploadResult(job.blob.url, job.up.container, job.name, job.image.size, 0, 0, 0, reused=True,
                            how={"mode": "reused"})
    job.new = blocks.scan(job.image.path, job.image.size)
    if found is not None and found.metadata.get(PARENT_KEY):
        result = _resume(job, found)
    elif found is not None:
        result = job.up.full(job.blob, job.image, resume=True, reporter=job.reporter)
    else:
        result = _fresh(job, metadata)
    if result.how.get("parent"):
        metadata[PARENT_KEY] = str(result.how["parent"])
    job.remember(etag(job.up.finish(job.blob, metadata)))
    return result


def _fresh(job: Job, metadata: dict[str, str]) -> UploadResult:
    base, why = choose(job)
    if base is not None:
        try:
            return _incremental(job, metadata, base)
        except CopyFailed as exc:
            why = exc.message
    job.reporter.step(f"full upload of {job.name}: {why}")
    job.up.create(job.blob, job.image, metadata)
    result = job.up.full(job.blob, job.image, resume=False, reporter=job.reporter)
    return dataclasses.replace(result, how={**result.how, "why": why})


def choose(job: Job) -> tuple[Base | None, str]:
    """The blob to build on (the family's newest one with a manifest here, else its newest read
    back), or None and why not."""
    lineage = job.lineage
    if lineage.parent == NONE:
        return None, "--parent none"
    found = [_named(job.up, lineage.parent, job.name)] if lineage.parent else _family(job.up, lineage, job.name)
    if not found:
        return None, f"no earlier {lineage.arch} blob of family {lineage.family} in container {job.up.container}"
    for props in found:
        manifest = job.manifest(props.name, props)
        if manifest is not None:
            return Base(props.name, etag(props.etag), dict(manifest.blocks), "manifest"), ""
    newest = found[0]
    job.reporter.step(f"no manifest of {newest.name} in this directory: reading its pages back")
    held, read = read_back(job, newest.name, newest.size, etag(newest.etag))
    return Base(newest.name, etag(newest.etag), held, "read back", read), ""


def _named(up: PageBlobUploader, name: str, target: str) -> Any:
    if name == target:
        raise UsageError(f"--parent {name}: that is the blob being pushed", hint="name an earlier blob, or none")
    props = find(up.calls, f"reading {name}", up.client(name).get_blob_properties)
    if props is None:
        raise UsageError(f"--parent {name}: no such blob in container {up.container}",
                         hint="name a page blob an earlier push made, or none for a full upload")
    if str(props.blob_type).rsplit(".", 1)[-1].lower() != "pageblob":
        raise UsageError(f"--parent {name}: a {props.blob_type} blob, not a page blob")
    return props


def _family(up: PageBlobUploader, lineage: Lineage, target: str) -> list[Any]:
    """The family's complete blobs of the image's architecture in the container, newest first
    (a blob pushed before lkcloud recorded the architecture counts as amd64)."""
    container = up.service.get_container_client(up.container)
    listed = up.calls.call(f"listing the blobs of family {lineage.family}",
                           lambda: list(container.list_blobs(name_starts_with=lineage.prefix, include=["metadata"])))
    mine = [p for p in listed if p.name != target and lineage.is_family_blob(p.name)
            and (p.metadata or {}).get(COMPLETE_KEY) == "true"
            and (p.metadata or {}).get(ARCH_KEY, "amd64") == lineage.arch]
    return sorted(mine, key=lambda p: (p.last_modified, p.name), reverse=True)


def read_back(job: Job, name: str, blob_size: int, version: str) -> tuple[dict[int, bytes], int]:
    """What blob ``name`` holds, block by block: the blocks where both it and the new disk have
    data are read (consecutive ones together, up to a page a request) and hashed; the others it
    holds data in are UNKNOWN. Returns (blocks, bytes read)."""
    up, size = job.up, job.image.size
    blob = up.client(name)
    held: dict[int, bytes] = {}
    for span in up.stored(blob):
        held.update(dict.fromkeys(range(span.start // BLOCK, (span.end - 1) // BLOCK + 1), UNKNOWN))
    common = min(blob_size, size)

    def comparable(index: int) -> bool:  # the same bytes of the block exist in both
        return (index + 1) * BLOCK <= common or (blob_size == size and index * BLOCK < size)

    def fetch(run: Span) -> list[tuple[int, bytes | None]]:
        data = up.calls.call(f"reading {name} at {run.start}", lambda: blob.download_blob(
            offset=run.start, length=run.length, etag=version, match_condition=MatchConditions.IfNotModified).readall())
        return [(at // BLOCK, blocks.block_digest(data[at - run.start : at - run.start + BLOCK]))
                for at in range(run.start, run.end, BLOCK)]

    runs = list(_runs(tuple(sorted(i for i in held if i in job.new and comparable(i))), size))
    with ThreadPoolExecutor(up.concurrency, "azure-read") as pool:
        for index, digest in (pair for found in pool.map(fetch, runs) for pair in found):
            if digest is None:
                del held[index]
            else:
                held[index] = digest
    return held, sum(run.length for run in runs)


def _incremental(job: Job, metadata: dict[str, str], base: Base) -> UploadResult:
    up, blob = job.up, job.blob
    job.reporter.step(f"copying {base.name} to {job.name} (what it holds: {base.source})")
    try:
        up.calls.call(f"copying {base.name} to {job.name}", blob.start_copy_from_url, up.client(base.name).url,
                      metadata={**metadata, PARENT_KEY: base.name, PARENT_ETAG_KEY: base.etag.strip('"')},
                      source_etag=base.etag, source_match_condition=MatchConditions.IfNotModified)
    except DataRoleMissing:
        raise  # the push tries again with the account key
    except LkcloudError as exc:  # e.g. CannotVerifyCopySource: the whole image goes up instead
        if getattr(exc.__cause__, "status_code", None) == 412:
            raise CopyFailed(f"{base.name} changed since it was read") from exc
        raise CopyFailed(f"the copy was refused: {exc.message}") from exc
    props = up.settled(blob)
    status = getattr(props.copy, "status", None) if props is not None else "lost"
    if status != "success":
        detail = getattr(props.copy, "status_description", None) if props is not None else None
        raise CopyFailed(f"the copy of {base.name} ended {status}" + (f": {detail}" if detail else ""))
    if props.size != job.image.size:
        up.calls.call(f"resizing {job.name}", blob.resize_blob, job.image.size)
    return _apply(job, base, resumed=False)


def _resume(job: Job, found: Any) -> UploadResult:
    parent, copied = str(found.metadata[PARENT_KEY]), etag(found.metadata.get(PARENT_ETAG_KEY, ""))
    manifest = job.store.load(job.key(parent, copied))
    if manifest is not None and manifest.block_size == BLOCK:
        job.reporter.step(f"resuming {job.name}: writing again what differs from {parent}")
        base = Base(parent, copied, dict(manifest.blocks), "manifest")
    else:
        job.reporter.step(f"resuming {job.name}: no manifest of {parent} in this directory, reading the blob back")
        held, read = read_back(job, job.name, found.size, etag(found.etag))
        base = Base(parent, copied, held, "read back (the interrupted blob)", read)
    return _apply(job, base, resumed=True)


def _apply(job: Job, base: Base, *, resumed: bool) -> UploadResult:
    change = blocks.diff(base.blocks, job.new, -(-job.image.size // BLOCK))
    ops = operations(job.image, change, base.blocks)
    lowest = job.up.send(job.blob, job.image, ops, job.reporter)
    sent = sum(op.span.length for op in ops if not op.clear)
    how: dict[str, Any] = {"mode": "incremental", "parent": base.name, "base": base.source, "resumed": resumed,
                           "block_size": BLOCK, "blocks_written": len(change.write),
                           "blocks_cleared": len(change.clear), "blocks_unchanged": len(change.same),
                           "bytes_read": base.bytes_read}
    return UploadResult(job.blob.url, job.up.container, job.name, job.image.size, len(ops), len(ops), sent,
                        lowest_concurrency=lowest, parent=job.up.client(base.name).url, how=how)


def operations(image: FixedVhd, change: blocks.Diff, base: Mapping[int, bytes]) -> list[Op]:
    """The requests that turn the base into ``image``: the data of each changed block (zero runs
    in it cleared where the base had data), and whole blocks cleared that are zeros now."""
    ops: list[Op] = []
    with image.path.open("rb") as fh:
        for index in change.write:
            start = index * BLOCK
            length = min(BLOCK, image.size - start)
            spans = list(data_spans(os.pread(fh.fileno(), length, start), start))
            ops += [Op(span) for span in spans]
            if index in base:
                ops += [Op(gap, clear=True) for gap in _gaps(Span(start, length), spans)]
    ops += [Op(span, clear=True) for span in _runs(change.clear, image.size)]
    return ops


def _gaps(whole: Span, spans: list[Span]) -> Iterator[Span]:
    """The parts of ``whole`` that no span (sorted, inside it) covers."""
    at = whole.start
    for span in spans:
        if span.start > at:
            yield Span(at, span.start - at)
        at = max(at, span.end)
    if at < whole.end:
        yield Span(at, whole.end - at)


def _runs(indices: tuple[int, ...], size: int) -> Iterator[Span]:
    """Consecutive blocks as spans of at most one page."""
    run: Span | None = None
    for index in indices:
        span = Span(index * BLOCK, min(BLOCK, size - index * BLOCK))
        if run is not None and run.end == span.start and run.length + span.length <= PAGE:
            run = Span(run.start, run.length + span.length)
            continue
        if run is not None:
            yield run
        run = span
    if run is not None:
        yield run
