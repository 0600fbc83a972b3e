"""The OCI-layout cache: local images, verification, decompression, LinuxKit's layout."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.oci import media
from lkcloud.oci.api import ContainerConfig, Descriptor
from lkcloud.oci.layout import Layout
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from lkcloud.oci.write import write_image
from tests.servers.registry import compress, layer_tar, make_image, seed_store
from tests.support.net import free_port

OFFLINE = RegistryOptions(use_env=False, attempts=1)


def _store(root: Path) -> ImageStore:
    return ImageStore(root, registry=OFFLINE)


def _names(store: ImageStore, layer_index: int, image_ref: str = "test/img:1") -> list[str]:
    image = store.get(image_ref)
    with store.open_layer(image.layers[layer_index]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        return [m.name for m in tar]


def test_put_image_is_reproducible_and_tagged(tmp_path: Path) -> None:
    config = ContainerConfig(entrypoint=("/bin/sh",), env=("A=1",), labels=(("org.mobyproject.config", "{}"),))
    layers = [{"bin/hello": b"hello"}, {"etc/motd": b"hi"}]
    one = seed_store(_store(tmp_path / "a"), "test/img:1", layers, tmp=tmp_path, config=config)
    two = seed_store(_store(tmp_path / "b"), "test/img:1", layers, tmp=tmp_path, config=config)
    assert one == two
    assert one.reference == "docker.io/test/img:1"
    assert one.config == config
    assert [layer.media_type for layer in one.layers] == [media.OCI_LAYER_GZIP] * 2
    for name in ("oci-layout", "index.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {media.REF_NAME: "docker.io/test/img:1"}
    gz = (tmp_path / "a" / "blobs" / "sha256" / one.layers[0].digest.split(":")[1]).read_bytes()
    assert gz[:2] == media.GZIP_MAGIC and gz[4:8] == b"\0\0\0\0"  # gzip mtime 0


def test_put_image_keeps_other_architectures(tmp_path: Path) -> None:
    store = _store(tmp_path / "cache")
    amd = seed_store(store, "test/img:1", [{"amd": b"1"}], tmp=tmp_path)
    arm = seed_store(store, "test/img:1", [{"arm": b"2"}], tmp=tmp_path, arch="arm64")
    assert store.get("test/img:1", arch="amd64").manifest_digest == amd.manifest_digest
    assert store.get("test/img:1", arch="aarch64").manifest_digest == arm.manifest_digest
    assert arm.platform.architecture == "arm64"
    assert len(store.images()) == 1


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_open_layer_decompresses_by_magic(tmp_path: Path, compression: str) -> None:
    store = _store(tmp_path / "cache")
    tar = layer_tar({"a/b": b"x" * 5000})
    data = compress(tar, compression)
    digest = store.layout.write_blob(data)
    with store.open_layer(Descriptor(media.OCI_LAYER, digest, len(data))) as stream:
        assert stream.read() == tar


def test_open_blob_detects_corruption(tmp_path: Path) -> None:
    store = _store(tmp_path / "cache")
    digest = store.layout.write_blob(b"x" * 3_000_000)
    store.layout.blob_path(digest).write_bytes(b"x" * 2_999_999 + b"y")
    with pytest.raises(DigestMismatchError), store.open_blob(digest) as stream:
        stream.read()
    # Stopping early still checks on close.
    with pytest.raises(DigestMismatchError), store.open_blob(digest) as stream:
        stream.read(10)


def test_missing_image_without_registry_is_clear(tmp_path: Path) -> None:
    store = _store(tmp_path / "cache")
    port = free_port()
    with pytest.raises(RegistryError, match=f"127.0.0.1:{port}"):
        store.get(f"127.0.0.1:{port}/nothing/here:1")
    with pytest.raises(ImageNotFoundError):
        store.local("nothing/here:1")


def test_damaged_layer_offline_is_a_clear_error(tmp_path: Path) -> None:
    store = _store(tmp_path / "cache")
    port = free_port()
    ref = f"127.0.0.1:{port}/test/img:1"
    image = seed_store(store, ref, [{"a": b"1" * 1000}], tmp=tmp_path)
    path = store.layout.blob_path(image.layers[0].digest)
    data = path.read_bytes()
    path.write_bytes(data[:20] + bytes([data[20] ^ 0xFF]) + data[21:])
    with pytest.raises(DigestMismatchError, match="out of reach") as info:
        _store(tmp_path / "cache").get(ref)
    assert f"127.0.0.1:{port}" in info.value.message
    assert not path.exists()  # the damaged blob was dropped


def test_reads_a_linuxkit_cache_as_is(tmp_path: Path) -> None:
    """A layout as LinuxKit writes it: a Docker manifest list (only the amd64 child present),
    Docker media types, the name in the ref.name annotation, a ``.lock`` file."""
    root = tmp_path / "linuxkit-cache"
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / ".lock").write_text("")
    image = make_image([{"usr/bin/x": b"x"}], docker_types=True, config={"Cmd": ["/x"]})
    other = make_image([{"usr/bin/y": b"y"}], arch="arm64", docker_types=True)
    listing = {
        "schemaVersion": 2,
        "mediaType": media.DOCKER_LIST,
        "manifests": [
            {"mediaType": media.DOCKER_MANIFEST, "digest": d.digest, "size": len(d.manifest),
             "platform": {"architecture": d.arch, "os": "linux"}}
            for d in (other, image)
        ],
    }
    listing_bytes = json.dumps(listing, indent=3).encode()
    for data in [listing_bytes, image.manifest, *image.blobs.values()]:
        (root / "blobs" / "sha256" / media.sha256(data).split(":")[1]).write_bytes(data)
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": media.DOCKER_LIST, "digest": media.sha256(listing_bytes), "size": len(listing_bytes),
        "annotations": {media.REF_NAME: "docker.io/linuxkit/init:v1.0"}}]}
    (root / "index.json").write_text(json.dumps(index))
    store = _store(root)
    got = store.get("linuxkit/init:v1.0")
    assert got.manifest_digest == image.digest
    assert got.index_digest == media.sha256(listing_bytes)
    assert got.config.cmd == ("/x",)
    assert got.manifest_media_type == media.DOCKER_MANIFEST
    with pytest.raises(ImageNotFoundError):  # arm64 child absent, registry unreachable
        store.local("linuxkit/init:v1.0", arch="arm64")


def _tag_many(root: str, worker: int) -> None:
    store = ImageStore(Path(root), registry=OFFLINE)
    for i in range(8):
        digest = store.layout.write_blob(f"{worker}-{i}".encode())
        store.layout.tag(f"docker.io/w{worker}/img:{i}", Descriptor(media.OCI_MANIFEST, digest, 3))


def test_concurrent_processes_keep_every_tag(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_tag_many, args=(str(tmp_path / "cache"), w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert len(ImageStore(tmp_path / "cache").images()) == 24


def test_put_image_rejects_compressed_layers(tmp_path: Path) -> None:
    from lkcloud.errors import BuildError

    layer = tmp_path / "layer.tar.gz"
    layer.write_bytes(compress(layer_tar({"a": b"1"}), "gzip"))
    with pytest.raises(BuildError, match="uncompressed"):
        _store(tmp_path / "cache").put_image("x/y:1", config=ContainerConfig(), layers=[layer])


def _put_many(root: str, arch: str, count: int) -> None:
    """Put ``count`` images of ``arch`` under one name; once the other architecture is in the
    name's index, it must stay there (exit 1 when a put dropped it)."""
    store = ImageStore(Path(root), registry=OFFLINE)
    work = Path(root).parent / f"work-{arch}"
    work.mkdir(exist_ok=True)
    other, seen = "arm64" if arch == "amd64" else "amd64", False
    for i in range(count):
        seed_store(store, "test/multi:1", [{"arch": f"{arch}-{i}".encode()}], tmp=work, arch=arch)
        try:
            store.get("test/multi:1", arch=other)
            seen = True
        except ImageNotFoundError:
            if seen:
                raise SystemExit(f"{other} was dropped by put {i} of {arch}") from None


def test_builds_of_one_name_for_two_architectures_keep_both(tmp_path: Path) -> None:
    """pkg build --arch amd64 and --arch arm64 of one name at once: each reads the index the other
    may be writing; reading, writing and tagging it in one hold of the lock keeps both."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    cache = tmp_path / "cache"
    procs = [context.Process(target=_put_many, args=(str(cache), arch, 12)) for arch in ("amd64", "arm64")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(300)
        assert proc.exitcode == 0
    store = _store(cache)
    for arch in ("amd64", "arm64"):
        image = store.get("test/multi:1", arch=arch)
        with store.open_layer(image.layers[0]) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            member = tar.next()
            assert member is not None
            content = tar.extractfile(member)
            assert content is not None and content.read() == f"{arch}-11".encode()


class _WatchedLayout(Layout):
    """A layout that records, for each tag written, whether the cache lock was held."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.tagged_locked: list[bool] = []

    def tag(self, name: str, desc: Descriptor) -> Descriptor:
        self.tagged_locked.append(self.lock().is_locked)
        return super().tag(name, desc)


def test_the_index_is_tagged_in_the_hold_of_the_lock_that_read_it(tmp_path: Path) -> None:
    """The window the concurrent test above can rarely hit: the index read under the lock must be
    tagged before the lock is let go, or another platform's build in between is lost."""
    layout = _WatchedLayout(tmp_path / "cache")
    layer = tmp_path / "layer.tar"
    layer.write_bytes(layer_tar({"a": b"1"}))
    for arch in ("amd64", "arm64"):
        write_image(layout, "docker.io/test/img:1", config=ContainerConfig(), layers=[layer], arch=arch,
                    created="1970-01-01T00:00:00Z")
    assert layout.tagged_locked == [True, True]


def test_single_architecture_image_of_another_is_refused_naming_it(tmp_path: Path) -> None:
    """A cached single-architecture amd64 image, asked for as arm64: an error at once (no pull),
    naming the image and both architectures."""
    store = _store(tmp_path / "cache")
    image = make_image([{"bin/x": b"x"}], arch="amd64")
    for data in [image.manifest, *image.blobs.values()]:
        store.layout.write_blob(data)
    store.layout.tag("docker.io/test/single:1", Descriptor(image.media_type, image.digest, len(image.manifest)))
    assert store.get("test/single:1", arch="amd64").manifest_digest == image.digest
    with pytest.raises(ImageNotFoundError) as info:
        store.get("test/single:1", arch="arm64")
    assert info.value.message == ("docker.io/test/single:1 is a single-architecture image for linux/amd64, "
                                  "not linux/arm64")
    assert info.value.hint is not None and "--arch amd64" in info.value.hint


def test_index_without_the_architecture_is_refused_at_once(tmp_path: Path) -> None:
    store = _store(tmp_path / "cache")
    seed_store(store, "test/img:1", [{"amd": b"1"}], tmp=tmp_path)
    with pytest.raises(ImageNotFoundError, match=r"has no image for linux/arm64 \(it offers: linux/amd64\)"):
        store.get("test/img:1", arch="arm64")  # OFFLINE: a pull would fail with a registry error instead
