"""Fixtures for the AWS provider: the extended moto server, an isolated AWS environment, images."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lkcloud.settings import Settings
from lkcloud_aws.provider import AwsProvider
from lkcloud_aws.session import Aws, Tuning
from tests.servers import moto_server
from tests.support.files import sparse_file
from tests.support.net import free_port, stop, wait_for_port

REGION = "us-east-1"
MIB = 1 << 20
SMALL = 96 * MIB + 4321  # a 1 GiB volume with a partial last block, quick to hash


class Moto:
    """The running server: its endpoint and the /_lkcloud/ introspection."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def _post(self, path: str, body: bytes = b"") -> Any:
        request = urllib.request.Request(self.endpoint + path, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def reset(self) -> None:
        """Empty moto, and every AWS behaviour switched off (tests/servers/moto_ext_behaviour.py)."""
        self._post("/moto-api/reset")
        self._post("/_lkcloud/reset")

    def reset_counts(self) -> None:
        self._post("/_lkcloud/reset-counts")

    def behave(self, **switches: Any) -> None:
        """Switch on AWS behaviours the server models (see tests/servers/moto_ext_behaviour.py)."""
        self._post("/_lkcloud/behave", json.dumps(switches).encode())

    def actions(self) -> dict[str, int]:
        """Requests the server received per API action since the last reset."""
        return dict(self.counts()["actions"])

    def counts(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint + "/_lkcloud/counts", timeout=10) as response:
            return dict(json.loads(response.read()))

    def puts(self, snapshot_id: str) -> dict[int, int]:
        """PutSnapshotBlock requests the server received for ``snapshot_id``, per block index."""
        prefix = snapshot_id + "/"
        return {int(k[len(prefix):]): v for k, v in self.counts()["puts"].items() if k.startswith(prefix)}


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    port = free_port()
    proc = moto_server.start(port, tmp_path_factory.mktemp("moto") / "server.log")
    try:
        wait_for_port(port, timeout=60, proc=proc)
        yield Moto(f"http://127.0.0.1:{port}")
    finally:
        stop(proc)


@pytest.fixture
def aws_env(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Moto:
    """A clean moto and an environment that points boto3's standard chain at it."""
    moto.reset()
    for name in list(os.environ):
        if name.startswith(("AWS_", "LKCLOUD_")):
            monkeypatch.delenv(name)
    env = {
        "AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"), "AWS_EC2_METADATA_DISABLED": "true",
        "LKCLOUD_AWS_POLL_SECONDS": "0.01", "LKCLOUD_AWS_JOURNAL_DIR": str(tmp_path / "journal"),
        "LKCLOUD_AWS_WAIT_SECONDS": "120",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return moto


@pytest.fixture
def aws(aws_env: Moto) -> Aws:
    return Aws(REGION, Tuning(concurrency=8, shards=2, poll=0.01, wait=120))


def provider(**flags: Any) -> AwsProvider:
    """The provider as the CLI builds it: ``flags`` as the option table names them."""
    return AwsProvider.from_settings(Settings(), **flags)


make_image = sparse_file  # a sparse image with data at chosen byte offsets


def random_image(path: Path, size: int = 1 << 30, blocks: int = 24, seed: int = 7, *, mbr: bool = False) -> Path:
    """A sparse image with ``blocks`` scattered random 512 KiB-ish extents (some unaligned),
    one all-zero written block, and data in the last, partial block; with ``mbr`` it carries a
    boot signature, so that the CLI takes it for a raw disk."""
    rng = __import__("random").Random(seed)
    chunks: dict[int, bytes] = {}
    for _ in range(blocks):
        offset = rng.randrange(0, size - MIB) // 4096 * 4096
        chunks[offset] = rng.randbytes(rng.choice([4096, 65536, 524288, 700000]))
    chunks[size // 2] = bytes(524288)  # written, but zero: must not be sent
    chunks[size - 1000] = rng.randbytes(1000)
    if mbr:
        chunks[510] = b"\x55\xaa"
    return make_image(path, size, chunks)
