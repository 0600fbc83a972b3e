"""The registry client against real registries: basic auth (htpasswd), Bearer tokens, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lkcloud.errors import RegistryError
from lkcloud.oci import media
from lkcloud.oci.auth import Credentials
from lkcloud.oci.registry import RegistryClient, RegistryOptions
from lkcloud.oci.store import ImageStore
from tests.servers.registry import RegistryServer, make_image, push_to
from tests.support.net import free_port


def _options(server: RegistryServer, *, with_creds: bool) -> RegistryOptions:
    creds = {server.host: Credentials(server.username, server.password)} if with_creds else {}
    return RegistryOptions(credentials=creds, use_env=False, attempts=1)


def test_htpasswd_auth(htpasswd_registry: RegistryServer, tmp_path: Path) -> None:
    server = htpasswd_registry
    image = make_image([{"secret": b"basic"}])
    push_to(server.url, "private/img:1", image, username=server.username, password=server.password)
    store = ImageStore(tmp_path / "ok", registry=_options(server, with_creds=True))
    assert store.get(server.ref("private/img:1")).manifest_digest == image.digest
    anonymous = ImageStore(tmp_path / "anon", registry=_options(server, with_creds=False))
    with pytest.raises(RegistryError, match=f"registry {server.host} requires authentication"):
        anonymous.get(server.ref("private/img:1"))
    wrong = RegistryOptions(credentials={server.host: Credentials("alice", "nope")}, use_env=False, attempts=1)
    with pytest.raises(RegistryError, match=rf"registry {server.host} refused access \(401"):
        ImageStore(tmp_path / "wrong", registry=wrong).get(server.ref("private/img:1"))
    assert anonymous.images() == []


def test_credentials_from_docker_config(
    htpasswd_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = htpasswd_registry
    push_to(server.url, "private/conf:1", make_image([{"c": b"1"}]), username=server.username,
            password=server.password)
    auth = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    (tmp_path / "docker").mkdir()
    config = {"auths": {f"http://{server.host}/v2/": {"auth": auth}}}
    (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("LKCLOUD_REGISTRY_USERNAME", raising=False)
    store = ImageStore(tmp_path / "cache", registry=RegistryOptions(attempts=1))
    assert store.get(server.ref("private/conf:1")).layers


def test_credentials_from_env(
    htpasswd_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = htpasswd_registry
    push_to(server.url, "private/env:1", make_image([{"e": b"1"}]), username=server.username,
            password=server.password)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nothing"))
    monkeypatch.setenv("LKCLOUD_REGISTRY_USERNAME", server.username or "")
    monkeypatch.setenv("LKCLOUD_REGISTRY_PASSWORD", server.password or "")
    monkeypatch.setenv("LKCLOUD_REGISTRY_HOST", server.host)
    store = ImageStore(tmp_path / "cache", registry=RegistryOptions(attempts=1))
    assert store.get(server.ref("private/env:1")).layers


def test_token_auth(token_registry: RegistryServer, tmp_path: Path) -> None:
    server = token_registry
    image = make_image([{"token": b"bearer"}])
    with pytest.raises(RegistryError, match=f"registry {server.host} refused access"):
        push_to(server.url, "tok/img:1", image)  # anonymous push: pull-only token
    push_to(server.url, "tok/img:1", image, username=server.username, password=server.password)
    anonymous = ImageStore(tmp_path / "cache", registry=_options(server, with_creds=False))
    assert anonymous.get(server.ref("tok/img:1")).manifest_digest == image.digest


def test_token_cached_per_scope(token_registry: RegistryServer) -> None:
    server = token_registry
    image = make_image([{"cache": b"scope"}])
    push_to(server.url, "tok/cached:1", image, username=server.username, password=server.password)
    client = RegistryClient(server.host, _options(server, with_creds=False))
    for _ in range(3):
        assert client.get_manifest("tok/cached", "1").digest == image.digest
    assert client.blob_exists("tok/cached", json.loads(image.manifest)["config"]["digest"])
    assert len(client._tokens) == 1


def test_manifest_bytes_and_type_are_kept(registry: RegistryServer) -> None:
    image = make_image([{"keep": b"bytes"}], docker_types=True)
    push_to(registry.url, "exact/bytes:1", image)
    fetched = RegistryClient(registry.host, RegistryOptions(use_env=False)).get_manifest("exact/bytes", "1")
    assert (fetched.data, fetched.media_type, fetched.digest) == (image.manifest, media.DOCKER_MANIFEST, image.digest)


def test_registry_down_is_one_clear_line(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError) as info:
        ImageStore(tmp_path / "cache", registry=RegistryOptions(use_env=False)).get(f"{host}/down/img:1")
    assert info.value.message == f"cannot reach registry {host}: connection refused"


def test_scheme_choice() -> None:
    options = RegistryOptions(insecure=frozenset({"registry.lan:5000"}), use_env=False)
    assert RegistryClient("localhost:5000", options).base_url == "http://localhost:5000"
    assert RegistryClient("registry.lan:5000", options).base_url == "http://registry.lan:5000"
    assert RegistryClient("ghcr.io", options).base_url == "https://ghcr.io"
