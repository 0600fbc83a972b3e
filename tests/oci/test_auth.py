"""Credentials (environment, Docker config) and WWW-Authenticate challenges."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from lkcloud.oci.auth import Credentials, lookup, parse_challenge
from lkcloud.oci.registry import RegistryClient, RegistryOptions
from tests.servers.registry import RegistryServer


def _config(tmp_path: Path, doc: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(doc))
    return {"DOCKER_CONFIG": str(tmp_path)}


def test_docker_config_auths(tmp_path: Path) -> None:
    auth = base64.b64encode(b"bob:s3cr:et").decode()
    env = _config(tmp_path, {"auths": {
        "https://index.docker.io/v1/": {"auth": auth},
        "ghcr.io": {"username": "gh", "password": "pat"},
        "http://localhost:5000/v2/": {"auth": "not base64!"},
    }})
    assert lookup("registry-1.docker.io", env) == Credentials("bob", "s3cr:et")
    assert lookup("ghcr.io", env) == Credentials("gh", "pat")
    assert lookup("localhost:5000", env) is None
    assert lookup("quay.io", env) is None


def test_env_credentials_win_and_can_be_scoped(tmp_path: Path) -> None:
    env = _config(tmp_path, {"auths": {"ghcr.io": {"username": "gh", "password": "pat"}}})
    env |= {"LKCLOUD_REGISTRY_USERNAME": "ci", "LKCLOUD_REGISTRY_PASSWORD": "token",
            "LKCLOUD_REGISTRY_HOST": "ghcr.io"}
    assert lookup("ghcr.io", env) == Credentials("ci", "token")
    env["LKCLOUD_REGISTRY_HOST"] = "quay.io"
    assert lookup("ghcr.io", env) == Credentials("gh", "pat")
    assert lookup("quay.io", env) == Credentials("ci", "token")


def test_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(Credentials("u", "hunter2"))


def test_parse_challenge() -> None:
    found = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"'
    )
    assert found is not None and found.scheme == "bearer"
    assert found.get("realm") == "https://auth.docker.io/token"
    assert found.get("scope") == "repository:library/alpine:pull"
    basic = parse_challenge('Basic realm="x"')
    assert basic is not None and basic.scheme == "basic" and basic.get("realm") == "x"
    assert parse_challenge("") is None


def test_repeated_scope_parameters(token_registry: RegistryServer) -> None:
    """A challenge naming another scope than the one asked for gets both, as repeated params."""
    server = token_registry
    assert server.tokens is not None
    client = RegistryClient(server.host, RegistryOptions(use_env=False))
    challenge = parse_challenge(
        f'Bearer realm="{server.tokens.realm}",service="{server.tokens.service}",scope="repository:a/b:pull"'
    )
    assert challenge is not None
    client._token(challenge, "repository:c/d:pull", None)
    assert server.tokens.requests[-1] == (None, ["repository:a/b:pull", "repository:c/d:pull"])
