"""Hostile registries and hostile project settings (issue 17, items 2 and 3).

Credentials go only to the registry they are for; a token realm of an HTTPS registry is HTTPS;
a cloned repository's ``lkcloud.toml`` cannot switch registries to plain HTTP or put a mirror in
front of Docker Hub; what a registry sends is read within bounds and must keep moving.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lkcloud.errors import DigestMismatchError, LkcloudError, RegistryError, UsageError
from lkcloud.oci import media
from lkcloud.oci.auth import Credentials
from lkcloud.oci.limits import LimitError
from lkcloud.oci.registry import RegistryClient, RegistryOptions, TransientError
from lkcloud.oci.store import ImageStore
from lkcloud.settings import Settings
from tests.security.hostile_registry import Hostile, hostile_registry
from tests.servers.registry import TestImage, make_image
from tests.support.certs import self_signed

SECRET = base64.b64encode(b"ci:s3cret").decode()


def _serve_image(state: Hostile, image: TestImage, tag: str = "1") -> None:
    state.manifests[tag] = (image.manifest, image.media_type)
    state.blobs.update(image.blobs)


def _pull(port: int, ref: str, tmp_path: Path, **options: object) -> ImageStore:
    store = ImageStore(tmp_path / "cache", registry=RegistryOptions(attempts=1, **options))  # type: ignore[arg-type]
    store.get(f"127.0.0.1:{port}/{ref}", pull=True)
    return store


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LKCLOUD_REGISTRY_USERNAME", "LKCLOUD_REGISTRY_PASSWORD", "LKCLOUD_REGISTRY_HOST",
                 "LKCLOUD_REGISTRY_INSECURE", "LKCLOUD_REGISTRY_MIRRORS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return monkeypatch


# --- item 2: credentials -------------------------------------------------------------------------
def test_env_credentials_without_a_host_go_nowhere(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LKCLOUD_REGISTRY_USERNAME", "ci")
    clean_env.setenv("LKCLOUD_REGISTRY_PASSWORD", "s3cret")
    state = Hostile(challenge='Basic realm="give me your password"')
    with hostile_registry(state) as port, pytest.raises(UsageError, match="LKCLOUD_REGISTRY_HOST is not") as info:
        _pull(port, "any/image:1", tmp_path)
    assert info.value.hint and "sent to no other" in info.value.hint
    assert all(auth is None for _, _, auth in state.seen)


def test_env_credentials_go_only_to_the_host_they_name(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LKCLOUD_REGISTRY_USERNAME", "ci")
    clean_env.setenv("LKCLOUD_REGISTRY_PASSWORD", "s3cret")
    clean_env.setenv("LKCLOUD_REGISTRY_HOST", "ghcr.io")
    theirs = Hostile(challenge='Basic realm="x"')
    with hostile_registry(theirs) as port, pytest.raises(RegistryError, match="requires authentication"):
        _pull(port, "any/image:1", tmp_path)
    assert all(auth is None for _, _, auth in theirs.seen)


def test_docker_config_entries_go_only_to_their_own_host(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    theirs = Hostile(challenge='Basic realm="x"')
    with hostile_registry(theirs) as port:
        (tmp_path / "docker").mkdir()
        doc = {"auths": {"ghcr.io": {"auth": SECRET}, "127.0.0.1": {"auth": SECRET},
                         f"http://127.0.0.1:{port + 1}/v2/": {"auth": SECRET}}}
        (tmp_path / "docker" / "config.json").write_text(json.dumps(doc))
        with pytest.raises(RegistryError, match="requires authentication"):
            _pull(port, "any/image:1", tmp_path)
    assert all(auth is None for _, _, auth in theirs.seen)


def test_a_plain_http_token_realm_of_an_https_registry_gets_nothing(tmp_path: Path,
                                                                      clean_env: pytest.MonkeyPatch) -> None:
    key, cert = self_signed("registry.test", ip="127.0.0.1")
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    realm = Hostile()
    with hostile_registry(realm) as realm_port:
        state = Hostile(challenge=f'Bearer realm="http://127.0.0.1:{realm_port}/token",service="s"')
        with hostile_registry(state, tls) as port:
            options = RegistryOptions(attempts=1, use_env=False,
                                      credentials={"registry.test": Credentials("ci", "s3cret")})
            client = RegistryClient("registry.test", options, base_url=f"https://127.0.0.1:{port}")
            with pytest.raises(RegistryError, match="over plain HTTP: refused"):
                client.get_manifest("any/image", "1")
    assert state.seen and realm.seen == []


def test_authorization_is_not_forwarded_to_a_redirect_target(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    image = make_image([{"a": b"1"}])
    cdn = Hostile(blobs=dict(image.blobs))
    with hostile_registry(cdn) as cdn_port:
        state = Hostile(challenge='Basic realm="x"', redirect_blobs_to=f"http://localhost:{cdn_port}")
        _serve_image(state, image)
        with hostile_registry(state) as port:
            clean_env.setenv("LKCLOUD_REGISTRY_USERNAME", "ci")
            clean_env.setenv("LKCLOUD_REGISTRY_PASSWORD", "s3cret")
            clean_env.setenv("LKCLOUD_REGISTRY_HOST", f"127.0.0.1:{port}")
            _pull(port, "any/image:1", tmp_path)
    assert any(auth for _, _, auth in state.seen)
    assert cdn.seen and all(auth is None for _, _, auth in cdn.seen)


def test_a_project_file_cannot_switch_transport_or_mirrors(tmp_path: Path, clean_env: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "lkcloud.toml").write_text('[registry]\ninsecure = ["ghcr.io"]\nmirrors = ["http://evil.test"]\n')
    clean_env.chdir(project)
    with caplog.at_level(logging.WARNING):
        options = RegistryOptions.from_settings()
    assert options.insecure == frozenset() and options.mirrors == ()
    assert "registry.insecure ignored" in caplog.text and "--insecure-registry" in caplog.text
    assert RegistryClient("ghcr.io", options).base_url == "https://ghcr.io"
    user = tmp_path / "xdg" / "lkcloud"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('[registry]\ninsecure = ["registry.lan"]\n')
    assert RegistryOptions.from_settings(Settings()).insecure == frozenset({"registry.lan"})


# --- item 3: bounded reads -----------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True])
def test_a_manifest_over_4_mib_is_refused(tmp_path: Path, clean_env: pytest.MonkeyPatch, chunked: bool) -> None:
    state = Hostile(chunked=chunked)
    state.manifests["1"] = (b'{"schemaVersion":2,"layers":[' + b" " * (5 << 20) + b"]}", media.OCI_MANIFEST)
    with hostile_registry(state) as port, pytest.raises(RegistryError, match=r"manifest of .* is too large"):
        _pull(port, "big/manifest:1", tmp_path)


def test_a_config_declared_over_4_mib_is_not_fetched(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    image = make_image([{"a": b"1"}])
    doc = json.loads(image.manifest)
    doc["config"]["size"] = 5 << 20
    state = Hostile()
    state.manifests["1"] = (json.dumps(doc).encode(), media.OCI_MANIFEST)
    state.blobs.update(image.blobs)
    with hostile_registry(state) as port, pytest.raises(LimitError, match="its config declares 5 MiB"):
        _pull(port, "big/config:1", tmp_path)
    assert not any("/blobs/" in path for path in state.paths())


def test_layers_over_the_image_limit_are_not_fetched(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LKCLOUD_LIMITS_IMAGE_SIZE", "1K")
    state = Hostile()
    _serve_image(state, make_image([{"big": bytes(range(256)) * 64}], compression="none"))
    over = r"its layers declare \d+ KiB, over the 1 KiB limit"
    with hostile_registry(state) as port, pytest.raises(LimitError, match=over):
        _pull(port, "big/layers:1", tmp_path)
    assert not any("/blobs/" in path for path in state.paths())


def test_a_download_stops_at_its_declared_size(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    state = Hostile(extra=64 << 20)  # 64 MiB more than the manifest declares
    _serve_image(state, make_image([{"a": b"1"}]))
    with hostile_registry(state) as port, pytest.raises(DigestMismatchError, match=r"larger than the .* declared"):
        _pull(port, "more/bytes:1", tmp_path)
    assert state.sent < 32 << 20
    assert not list((tmp_path / "cache" / "blobs" / "sha256").glob(".tmp-*"))


def test_a_trickling_download_is_cut_off(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    # One byte every 50 ms never trips a 60 s socket timeout; it would take an hour per 64 KiB.
    state = Hostile(trickle=0.05)
    _serve_image(state, make_image([{"a": bytes(range(256)) * 1024}], compression="none"))
    failure: list[BaseException] = []

    def pull() -> None:
        try:
            _pull(port, "slow/blob:1", tmp_path, stall_window=1.0)
        except LkcloudError as exc:
            failure.append(exc)

    with hostile_registry(state) as port:
        worker = threading.Thread(target=pull, daemon=True)
        worker.start()
        worker.join(60)
        alive = worker.is_alive()
        state.trickle = 0.0
    assert not alive, "the download was still trickling after a minute"
    assert failure and isinstance(failure[0], TransientError) and "stalled" in str(failure[0])


def test_a_trickling_manifest_is_cut_off(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    state = Hostile(trickle=0.05, trickle_paths="/manifests/")
    _serve_image(state, make_image([{"a": b"1"}]))
    with hostile_registry(state) as port:
        client = RegistryClient(f"127.0.0.1:{port}", RegistryOptions(attempts=1, use_env=False, stall_window=1.0))
        with pytest.raises(TransientError, match="stalled"):
            client.get_manifest("slow/manifest", "1")
        state.trickle = 0.0
