"""``lkcloud push all``: one build, pushed to the three local clouds at once, one summary; one cloud
failing does not stop the others, and the exit status says whether all succeeded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from tests.conftest import ROOT
from tests.providers.aws.conftest import aws_env, moto  # noqa: F401 (fixtures)
from tests.providers.azure.conftest import arm, azure_env, azurite_url, container, tls  # noqa: F401
from tests.providers.gcp.conftest import bucket, compute, gcp_env, gcs_url  # noqa: F401
from tests.support.hello import Hello

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture
def three_clouds(request: pytest.FixtureRequest, hello: Hello, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """All three emulators at once, one environment, and the hello packages in the image cache;
    the GCP bucket's name."""
    for name in ("aws_env", "gcp_env", "azure_env"):  # in this order: aws_env clears LKCLOUD_*
        request.getfixturevalue(name)
    monkeypatch.setenv("LKCLOUD_CACHE", str(hello.cache))
    monkeypatch.setenv("LKCLOUD_GCP_PROJECT", "lk-all")
    monkeypatch.setenv("LKCLOUD_AZURE_CONTAINER", request.getfixturevalue("container"))
    yield str(request.getfixturevalue("bucket"))
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def push_all(capsys: pytest.CaptureFixture[str], code: int) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["--json", "push", "all", str(ROOT / "examples" / "hello.yml"), "--to", "aws,gcp,azure"]) == code
    summary = json.loads(capsys.readouterr().out)
    assert summary["succeeded"] is (code == 0)
    return {p["provider"]: p for p in summary["pushes"]}


def test_one_build_three_clouds_one_failing(three_clouds: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LKCLOUD_GCP_BUCKET", raising=False)  # GCP cannot upload: no bucket
    first = push_all(capsys, 1)
    assert first["gcp"]["result"] is None and "bucket" in str(first["gcp"]["error"])
    for cloud in ("aws", "azure"):
        assert first[cloud]["error"] is None and first[cloud]["result"]["provider"] == cloud  # type: ignore[index]
    monkeypatch.setenv("LKCLOUD_GCP_BUCKET", three_clouds)
    second = push_all(capsys, 0)
    assert all(second[cloud]["error"] is None for cloud in ("aws", "gcp", "azure"))
    for cloud in ("aws", "azure"):  # the same build: what was pushed before is reused
        assert second[cloud]["result"]["reused"] is True  # type: ignore[index]
        assert second[cloud]["result"]["id"] == first[cloud]["result"]["id"]  # type: ignore[index]
    # each cloud's push is this directory's last: `run` would find it
    assert main(["--json", "images", "list", "gcp"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
