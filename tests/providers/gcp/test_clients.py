"""Project, credentials and endpoints, resolved the way Google's tools do."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from lkcloud.errors import UsageError
from lkcloud.settings import Settings
from lkcloud_gcp.clients import Endpoints, Flags, compute_root, connect, endpoints_from_env


@pytest.mark.parametrize(
    ("override", "root"),
    [
        ("http://127.0.0.1:8123/compute/v1/", "http://127.0.0.1:8123"),
        ("http://127.0.0.1:8123/compute/v1", "http://127.0.0.1:8123"),
        ("https://compute.googleapis.com/compute/v1/", "https://compute.googleapis.com"),
        ("https://proxy.example/gce/compute/beta/", "https://proxy.example/gce"),
    ],
)
def test_compute_root_from_gcloud_override(override: str, root: str) -> None:
    assert compute_root(override) == root


def test_bad_override_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"):
        compute_root("127.0.0.1:8123")


def test_endpoints_from_env() -> None:
    found = endpoints_from_env({"STORAGE_EMULATOR_HOST": "127.0.0.1:9023"})
    assert found == Endpoints(compute=None, storage="http://127.0.0.1:9023") and found.local
    assert not endpoints_from_env({}).local


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:1", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE":
            "http://127.0.0.1:2/compute/v1/", "CLOUDSDK_CONFIG": str(tmp_path), "LKCLOUD_CACHE": str(tmp_path), **extra}


def test_project_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "lkcloud.toml"
    toml.write_text('[gcp]\nproject = "from-file"\nzone = "asia-east1-a"\n')
    env = _env(tmp_path)
    settings = Settings(files=[toml], env=env)
    assert connect(Flags(), settings, env)[0].project == "from-file"
    env["CLOUDSDK_CORE_PROJECT"] = "from-gcloud"
    assert connect(Flags(), settings, env)[0].project == "from-gcloud"
    config, clients = connect(Flags(project="from-flag"), settings, env)
    assert config.project == "from-flag" and config.zone == "asia-east1-a" and config.fleet_region == "asia-east1"
    assert isinstance(clients.credentials, AnonymousCredentials)  # local emulator, no ADC
    assert clients.endpoints.compute == "http://127.0.0.1:2"


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with pytest.raises(UsageError, match="no GCP project given") as info:
        connect(Flags(), Settings(files=[], env=env), env)
    assert "--project" in (info.value.hint or "")
