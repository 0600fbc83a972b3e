"""Pulling into the cache from a real registry (Debian's docker-registry) and from a fake one."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from lkcloud.errors import DigestMismatchError, ImageNotFoundError
from lkcloud.oci import media
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from tests.oci.fake_registry import FakeState, fake_registry
from tests.servers.registry import RegistryServer, make_image, make_index, push_to

OPTIONS = RegistryOptions(use_env=False, attempts=2)


def _store(root: Path, options: RegistryOptions = OPTIONS) -> ImageStore:
    return ImageStore(root, registry=options)


def _members(store: ImageStore, ref: str, arch: str = "amd64") -> dict[str, bytes]:
    out = {}
    for layer in store.get(ref, arch=arch).layers:
        with store.open_layer(layer) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                handle = tar.extractfile(member)
                if handle is not None:
                    out[member.name] = handle.read()
    return out


def test_push_pull_round_trip(registry: RegistryServer, busybox_layer: bytes, tmp_path: Path) -> None:
    image = make_image([busybox_layer, {"etc/motd": b"hello"}], config={"Cmd": ["/bin/busybox", "sh"]})
    digest = push_to(registry.url, "round/trip:1", image)
    store = _store(tmp_path / "cache")
    got = store.get(registry.ref("round/trip:1"))
    assert got.manifest_digest == digest
    assert got.config.cmd == ("/bin/busybox", "sh")
    assert got.index_digest is None
    files = _members(store, registry.ref("round/trip:1"))
    assert files["etc/motd"] == b"hello"
    assert files["bin/busybox"][:4] == b"\x7fELF"
    # The exact manifest bytes were kept.
    assert store.read_blob(digest) == image.manifest
    # Offline now: a store pointed at an unreachable registry still serves it.
    assert _store(tmp_path / "cache").get(registry.ref("round/trip:1")) == got


def test_store_push_then_pull_elsewhere(registry: RegistryServer, tmp_path: Path) -> None:
    from tests.servers.registry import seed_store

    local = _store(tmp_path / "local")
    seed_store(local, "example/pkg:1", [{"a": b"1"}], tmp=tmp_path)
    seed_store(local, "example/pkg:1", [{"b": b"2"}], tmp=tmp_path, arch="arm64")
    pushed = local.push("example/pkg:1", to=registry.ref("example/pkg:1"))
    other = _store(tmp_path / "other")
    assert other.get(registry.ref("example/pkg:1"), arch="arm64").index_digest == pushed
    assert _members(other, registry.ref("example/pkg:1"), "arm64") == {"b": b"2"}


@pytest.mark.parametrize("docker_types", [False, True])
def test_multi_arch_selection_skips_attestations(registry: RegistryServer, tmp_path: Path, docker_types: bool) -> None:
    amd = make_image([{"arch": b"amd64"}], docker_types=docker_types)
    arm = make_image([{"arch": b"arm64"}], arch="arm64", docker_types=docker_types)
    index = make_index([amd, arm], docker_types=docker_types)
    push_to(registry.url, f"multi/arch:{int(docker_types)}", index)
    ref = registry.ref(f"multi/arch:{int(docker_types)}")
    store = _store(tmp_path / "cache")
    got = store.get(ref, arch="arm64")
    assert (got.manifest_digest, got.index_digest) == (arm.digest, index.digest)
    assert _members(store, ref, "arm64") == {"arch": b"arm64"}
    # Only the requested platform was stored: LinuxKit's layout.
    assert not store.layout.has_blob(amd.digest)
    assert store.get(ref, arch="amd64").manifest_digest == amd.digest
    entry = store.layout.find(ref)
    assert entry is not None and entry.digest == index.digest and entry.media_type == index.media_type
    with pytest.raises(ImageNotFoundError, match="linux/amd64, linux/arm64"):
        store.get(ref, arch="riscv64")


def test_zstd_layer(registry: RegistryServer, tmp_path: Path) -> None:
    image = make_image([{"z": b"zstd" * 1000}], compression="zstd")
    push_to(registry.url, "comp/zstd:1", image)
    store = _store(tmp_path / "cache")
    assert store.get(registry.ref("comp/zstd:1")).layers[0].media_type == media.OCI_LAYER_ZSTD
    assert _members(store, registry.ref("comp/zstd:1")) == {"z": b"zstd" * 1000}


def test_pull_refreshes_a_moved_tag(registry: RegistryServer, tmp_path: Path) -> None:
    push_to(registry.url, "moving/tag:1", make_image([{"v": b"1"}]))
    store = _store(tmp_path / "cache")
    first = store.get(registry.ref("moving/tag:1"))
    second_image = make_image([{"v": b"2"}])
    push_to(registry.url, "moving/tag:1", second_image)
    assert store.get(registry.ref("moving/tag:1")) == first  # offline first
    assert store.get(registry.ref("moving/tag:1"), pull=True).manifest_digest == second_image.digest


def test_by_digest(registry: RegistryServer, tmp_path: Path) -> None:
    image = make_image([{"d": b"digest"}])
    digest = push_to(registry.url, "by/digest:1", image)
    store = _store(tmp_path / "cache")
    assert store.get(registry.ref(f"by/digest@{digest}")).manifest_digest == digest


def test_not_found_is_clear(registry: RegistryServer, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError, match=r"not found \(404\)") as info:
        _store(tmp_path / "cache").get(registry.ref("no/such:image"))
    assert registry.host in info.value.message


def _fake_image_state() -> tuple[FakeState, str]:
    image = make_image([{"big": b"payload" * 10000}])
    state = FakeState(manifests={"1": (image.manifest, image.media_type)}, blobs=dict(image.blobs))
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    return state, layer


def test_corrupt_blob_is_an_error_and_nothing_is_cached(tmp_path: Path) -> None:
    state, layer = _fake_image_state()
    state.corrupt.add(layer)
    store = _store(tmp_path / "cache")
    with fake_registry(state) as port, pytest.raises(DigestMismatchError, match=layer):
        store.get(f"127.0.0.1:{port}/fake/img:1")
    assert store.images() == []
    assert not store.layout.has_blob(layer)
    assert not [p for p in (tmp_path / "cache" / "blobs" / "sha256").iterdir() if p.name.startswith(".")]


def test_transient_failures_are_retried(tmp_path: Path) -> None:
    state, layer = _fake_image_state()
    state.failures = {"/manifests/1": 1, layer: 1}
    with fake_registry(state) as port:
        got = _store(tmp_path / "cache").get(f"127.0.0.1:{port}/fake/img:1")
    assert got.layers[0].digest == layer


def test_damaged_cache_is_fetched_again(tmp_path: Path) -> None:
    state, layer = _fake_image_state()
    with fake_registry(state) as port:
        ref = f"127.0.0.1:{port}/fake/img:1"
        store = _store(tmp_path / "cache")
        store.get(ref)
        path = store.layout.blob_path(layer)
        data = path.read_bytes()
        path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
        assert _store(tmp_path / "cache").get(ref).layers[0].digest == layer
        assert path.read_bytes() == data


def test_redirects_do_not_carry_credentials_to_another_host(tmp_path: Path) -> None:
    state, _ = _fake_image_state()
    blob_host = FakeState(blobs=state.blobs)
    auth = "Basic " + __import__("base64").b64encode(b"u:p").decode()
    state.require_basic = auth
    from lkcloud.oci.auth import Credentials

    with fake_registry(blob_host) as cdn_port, fake_registry(state) as port:
        state.redirect_blobs_to = f"http://localhost:{cdn_port}"
        host = f"127.0.0.1:{port}"
        options = RegistryOptions(use_env=False, attempts=1, credentials={host: Credentials("u", "p")})
        _store(tmp_path / "cache", options).get(f"{host}/fake/img:1")
    assert any(a == auth for _, _, a in state.seen)
    assert blob_host.seen and all(a is None for _, _, a in blob_host.seen)


def test_docker_hub_mirror_is_tried_first(tmp_path: Path) -> None:
    image = make_image([{"m": b"mirror"}])
    state = FakeState(manifests={"3.19": (image.manifest, image.media_type)}, blobs=dict(image.blobs))
    with fake_registry(state) as port:
        options = RegistryOptions(use_env=False, attempts=1, mirrors=(f"http://127.0.0.1:{port}",))
        got = _store(tmp_path / "cache", options).get("alpine:3.19")
    assert got.reference == "docker.io/library/alpine:3.19"
    assert state.seen[0][1] == "/v2/library/alpine/manifests/3.19"
