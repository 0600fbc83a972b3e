"""Image references: parsing and normalisation as Docker and LinuxKit read them."""

from __future__ import annotations

import pytest

from lkcloud.errors import UsageError
from lkcloud.oci.reference import normalise, parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("redis", "docker.io/library/redis:latest"),
        ("redis:7", "docker.io/library/redis:7"),
        ("foo/bar", "docker.io/foo/bar:latest"),
        ("docker.io/redis", "docker.io/library/redis:latest"),
        ("index.docker.io/library/redis:7", "docker.io/library/redis:7"),
        ("linuxkit/init:v1.0", "docker.io/linuxkit/init:v1.0"),
        (f"alpine@{DIGEST}", f"docker.io/library/alpine@{DIGEST}"),
        (f"alpine:3.19@{DIGEST}", f"docker.io/library/alpine:3.19@{DIGEST}"),
        ("localhost/x", "localhost/x:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("127.0.0.1:5001/a/b:t", "127.0.0.1:5001/a/b:t"),
        ("ghcr.io/org/repo/sub:1.2.3-rc_1", "ghcr.io/org/repo/sub:1.2.3-rc_1"),
        ("registry.example.com:8443/team/img", "registry.example.com:8443/team/img:latest"),
        ("a__b/c-d--e.f", "docker.io/a__b/c-d--e.f:latest"),
    ],
)
def test_normalise(ref: str, expected: str) -> None:
    assert normalise(ref) == expected
    assert normalise(expected) == expected


def test_parts() -> None:
    ref = parse("redis")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("docker.io", "library/redis", "latest", None)
    assert ref.name == "docker.io/library/redis"
    assert ref.registry == "registry-1.docker.io"
    assert ref.target == "latest"
    local = parse(f"localhost:5000/x@{DIGEST}")
    assert (local.registry, local.hostname, local.tag, local.target) == ("localhost:5000", "localhost", None, DIGEST)
    assert str(local.with_digest(DIGEST)) == f"localhost:5000/x@{DIGEST}"


@pytest.mark.parametrize(
    "ref",
    ["", "Redis", "foo/Bar", "redis:", "redis@sha256:abc", "redis@sha256:" + "AB" * 32, "a//b", "-a/b",
     "redis:bad tag", "bad_host:x:5000/y", ":tag", "foo/bar:" + "t" * 129],
)
def test_invalid(ref: str) -> None:
    with pytest.raises(UsageError):
        parse(ref)
