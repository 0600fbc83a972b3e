"""A real registry for tests (Debian's ``docker-registry``), and helpers to make test images.

Fixtures (session-scoped, so one set of servers per xdist worker, stopped by PID):

- ``registry``: plain registry, anonymous push and pull.
- ``htpasswd_registry``: basic auth (bcrypt htpasswd), user ``alice`` / ``wonderland``.
- ``token_registry``: Bearer token auth with an ES256 token server (tests/servers/token_server.py);
  anonymous pull, push for ``alice`` / ``wonderland``.

Helpers other tests use:

- ``layer_tar(files)``: a reproducible uncompressed tar (bytes) of ``{path: bytes}``.
- ``make_image(layers, config=..., arch=..., compression=...)``: a :class:`TestImage` (manifest,
  config and layer blobs) from layer dicts or tar bytes; ``make_index([...])`` for multi-arch.
- ``push_to(registry_url, ref, image_or_index)``: push it with lkcloud's own client.
- ``seed_store(store, ref, layers, ...)``: put an image straight into an ImageStore.

Use them in a test module with ``from tests.servers.registry import registry, push_to, ...``
(the fixtures become visible once imported into the module or a conftest).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

from lkcloud.oci import media
from lkcloud.oci.api import ContainerConfig, LocalImage
from lkcloud.oci.store import ImageStore
from lkcloud.process import spawn
from tests.servers.token_server import TokenServer
from tests.support.net import free_port, stop, wait_for_port

USER, PASSWORD = "alice", "wonderland"
Layer = Mapping[str, bytes] | bytes


# --- images -------------------------------------------------------------------------------------
def layer_tar(files: Mapping[str, bytes], mode: int = 0o755) -> bytes:
    """A reproducible uncompressed tar of ``files`` (parent directories added, sorted, mtime 0)."""
    names: dict[str, bytes | None] = {}
    for path, data in files.items():
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            names.setdefault("/".join(parts[:i]), None)
        names["/".join(parts)] = data
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(names):
            content = names[name]
            info = tarfile.TarInfo(name)
            info.mtime, info.uname, info.gname = 0, "", ""
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), mode
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        import zstandard

        return bytes(zstandard.ZstdCompressor().compress(data))
    return data


LAYER_TYPES = {"gzip": media.OCI_LAYER_GZIP, "zstd": media.OCI_LAYER_ZSTD, "none": media.OCI_LAYER}


@dataclass(frozen=True)
class TestImage:
    """An image as a registry holds it: exact manifest bytes plus every blob by digest."""

    __test__ = False  # not a pytest class

    manifest: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    arch: str = "amd64"
    children: tuple[TestImage, ...] = ()

    @property
    def digest(self) -> str:
        return media.sha256(self.manifest)


def make_image(
    layers: Sequence[Layer],
    *,
    config: Mapping[str, object] | None = None,
    arch: str = "amd64",
    compression: str = "gzip",
    docker_types: bool = False,
) -> TestImage:
    """An image from layers given as ``{path: bytes}`` or as uncompressed tar bytes."""
    tars = [layer if isinstance(layer, bytes) else layer_tar(layer) for layer in layers]
    blobs = {}
    layer_docs = []
    for tar in tars:
        data = compress(tar, compression)
        blobs[media.sha256(data)] = data
        kind = media.DOCKER_LAYER_GZIP if docker_types else LAYER_TYPES[compression]
        layer_docs.append({"mediaType": kind, "digest": media.sha256(data), "size": len(data)})
    config_doc = {
        "architecture": arch,
        "os": "linux",
        "config": dict(config or {}),
        "rootfs": {"type": "layers", "diff_ids": [media.sha256(t) for t in tars]},
    }
    config_bytes = json.dumps(config_doc, sort_keys=True).encode()
    blobs[media.sha256(config_bytes)] = config_bytes
    manifest_type = media.DOCKER_MANIFEST if docker_types else media.OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {
            "mediaType": media.DOCKER_CONFIG if docker_types else media.OCI_CONFIG,
            "digest": media.sha256(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layer_docs,
    }
    return TestImage(json.dumps(manifest, indent=3).encode(), manifest_type, blobs, arch)


def make_index(images: Sequence[TestImage], *, attestation: bool = True, docker_types: bool = False) -> TestImage:
    """A multi-arch index of ``images``; with ``attestation``, an ``unknown/unknown``
    attestation manifest as BuildKit adds (listed first, to check that it is skipped)."""
    entries = []
    children = list(images)
    if attestation:
        att = make_image([{"attestation.json": b"{}"}], arch="unknown")
        children.insert(0, att)
    for child in children:
        entry: dict[str, object] = {"mediaType": child.media_type, "digest": child.digest, "size": len(child.manifest)}
        entry["platform"] = {"architecture": child.arch, "os": "unknown" if child.arch == "unknown" else "linux"}
        if child.arch == "unknown":
            entry["annotations"] = {media.REFERENCE_TYPE: "attestation-manifest"}
        entries.append(entry)
    kind = media.DOCKER_LIST if docker_types else media.OCI_INDEX
    doc = {"schemaVersion": 2, "mediaType": kind, "manifests": entries}
    return TestImage(json.dumps(doc).encode(), kind, {}, "", tuple(children))


def push_to(registry_url: str, ref: str, image: TestImage, *, username: str | None = None,
            password: str | None = None) -> str:
    """Push ``image`` (or an index and its children) as ``ref`` on ``registry_url``
    (``http://127.0.0.1:PORT``), with lkcloud's own registry client. Returns the root digest."""
    from lkcloud.oci.reference import parse
    from lkcloud.oci.registry import Credentials, RegistryClient, RegistryOptions

    host = registry_url.split("://", 1)[-1].rstrip("/")
    reference = parse(f"{host}/{ref}")
    creds = {host: Credentials(username, password)} if username and password else {}
    client = RegistryClient(reference.registry, RegistryOptions(credentials=creds, use_env=False))
    for child in image.children:
        _push_one(client, reference.path, child)
    _push_one(client, reference.path, image, reference.tag or image.digest)
    return image.digest


def _push_one(client: object, repository: str, image: TestImage, tag: str | None = None) -> None:
    from lkcloud.oci.registry import RegistryClient

    assert isinstance(client, RegistryClient)
    for digest, data in image.blobs.items():
        client.push_blob(repository, digest, data)
    client.push_manifest(repository, tag or image.digest, image.manifest, image.media_type)


def seed_store(
    store: ImageStore,
    ref: str,
    layers: Sequence[Layer],
    *,
    tmp: Path,
    config: ContainerConfig | None = None,
    arch: str = "amd64",
) -> LocalImage:
    """Put an image made of ``layers`` straight into ``store`` (no registry)."""
    paths = []
    for i, layer in enumerate(layers):
        path = tmp / f"seed-layer-{i}.tar"
        path.write_bytes(layer if isinstance(layer, bytes) else layer_tar(layer))
        paths.append(path)
    return store.put_image(ref, config=config or ContainerConfig(), layers=paths, arch=arch)


# --- the registry server --------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryServer:
    url: str  # http://127.0.0.1:PORT
    host: str  # 127.0.0.1:PORT
    root: Path
    username: str | None = None
    password: str | None = None
    tokens: TokenServer | None = None  # the token server, for token-auth registries

    def ref(self, path: str) -> str:
        return f"{self.host}/{path}"


def _config(root: Path, port: int, auth: Mapping[str, object] | None) -> str:
    doc: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "lkcloud-tests"},
    }
    if auth:
        doc["auth"] = auth
    return json.dumps(doc)  # JSON is YAML


def run_registry(
    root: Path, auth: Mapping[str, object] | None = None, **extra: str | TokenServer
) -> Generator[RegistryServer, None, None]:
    """Run ``docker-registry serve`` on a free port until the generator is closed."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "config.yml"
    config.write_text(_config(root, port, auth))
    log = (root / "registry.log").open("wb")
    proc = spawn(["docker-registry", "serve", config], stdout=log.fileno(), stderr=log.fileno())
    try:
        wait_for_port(port, proc=proc)
        yield RegistryServer(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", root, **extra)  # type: ignore[arg-type]
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from run_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def htpasswd_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    root = tmp_path_factory.mktemp("registry-htpasswd")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"{USER}:{hashed}\n")
    auth = {"htpasswd": {"realm": "lkcloud-test", "path": str(root / "htpasswd")}}
    yield from run_registry(root, auth, username=USER, password=PASSWORD)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    root = tmp_path_factory.mktemp("registry-token")
    with TokenServer(users={USER: PASSWORD}, service="lkcloud-registry", issuer="lkcloud-token") as tokens:
        (root / "token.crt").write_bytes(tokens.cert_pem)
        auth = {
            "token": {
                "realm": tokens.realm,
                "service": tokens.service,
                "issuer": tokens.issuer,
                "rootcertbundle": str(root / "token.crt"),
            }
        }
        yield from run_registry(root, auth, username=USER, password=PASSWORD, tokens=tokens)


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
