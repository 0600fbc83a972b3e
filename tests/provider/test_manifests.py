"""Block manifests: written atomically, read back verified, bounded per family."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lkcloud.provider.manifests import BlockManifest, ManifestStore, decode

BLOCK = 524288


def manifest(key: str = "snap-0123", family: str = "web", blocks: int = 3) -> BlockManifest:
    digests = {index * 7: hashlib.sha256(f"{key}{index}".encode()).digest() for index in range(blocks)}
    return BlockManifest(key, "sha256:" + "a" * 64, family, 40 * BLOCK + 10, BLOCK, digests)


def test_round_trip(tmp_path: Path) -> None:
    store = ManifestStore(tmp_path / "m")
    saved = manifest()
    store.save(saved)
    assert store.load("snap-0123") == saved
    assert store.load("snap-other") is None
    assert oct(store.path("snap-0123").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.startswith(".")], "no temporary file left"


def test_same_manifest_same_bytes() -> None:
    assert manifest().encode() == manifest().encode()


def test_a_damaged_or_foreign_file_is_unknown_and_removed(tmp_path: Path) -> None:
    store = ManifestStore(tmp_path)
    store.save(manifest())
    path = store.path("snap-0123")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))
    assert store.load("snap-0123") is None
    assert not path.exists()
    # A whole manifest of another key under this key's name (a copied file) is not believed either.
    path.write_bytes(manifest("snap-9999").encode())
    assert store.load("snap-0123") is None


def test_truncated_and_inconsistent_files_are_refused() -> None:
    raw = manifest().encode()
    assert decode(raw) is not None
    assert decode(raw[:-1]) is None
    assert decode(b"") is None
    assert decode(b"LKBM1\n{not json\n" + bytes(32)) is None
    # A block beyond the image's end: refused even with a correct trailing sum.
    beyond = BlockManifest("k", "d", "f", BLOCK, BLOCK, {5: bytes(32)}).encode()
    assert decode(beyond) is None


def test_the_newest_few_of_a_family_are_kept(tmp_path: Path) -> None:
    store = ManifestStore(tmp_path, keep=2)
    for number in range(4):
        store.save(manifest(f"snap-{number}", family="web"))
        os.utime(store.path(f"snap-{number}"), ns=(number * 10**9, number * 10**9))
    store.save(manifest("snap-other", family="db"))
    assert store.load("snap-0") is None and store.load("snap-1") is None
    assert store.load("snap-2") is not None and store.load("snap-3") is not None
    assert store.load("snap-other") is not None
