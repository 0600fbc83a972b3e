"""``lkcloud cache ls | pull | rm | export | import`` through the real CLI entry point."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.oci import media
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from tests.servers.registry import RegistryServer, layer_tar, make_image, make_index, push_to, seed_store


@pytest.fixture(autouse=True)
def _reset_options(monkeypatch: pytest.MonkeyPatch) -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False
    monkeypatch.delenv("LKCLOUD_CACHE", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    context.OPTIONS.json = False
    return code, out, err


def _seeded(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    store = ImageStore(cache)
    seed_store(store, "example/one:1", [{"bin/one": b"1"}], tmp=tmp_path)
    seed_store(store, "example/two:2", [{"bin/two": b"2"}, {"etc/x": b"x"}], tmp=tmp_path)
    return cache


def test_ls_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = _seeded(tmp_path)
    code, out, _ = _run(capsys, "cache", "ls", "--cache", str(cache), "--json")
    assert code == 0
    listed = json.loads(out)
    assert [i["reference"] for i in listed] == ["docker.io/example/one:1", "docker.io/example/two:2"]
    assert listed[0]["platforms"] == ["linux/amd64"]
    code, out, _ = _run(capsys, "cache", "ls", "--cache", str(cache))
    assert code == 0 and "docker.io/example/two:2" in out and "REFERENCE" in out


def test_cache_dir_from_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LKCLOUD_CACHE", str(_seeded(tmp_path)))
    code, out, _ = _run(capsys, "--json", "cache", "ls")
    assert code == 0 and len(json.loads(out)) == 2


def test_rm_prunes_blobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = _seeded(tmp_path)
    before = len(list((cache / "blobs" / "sha256").iterdir()))
    code, out, err = _run(capsys, "cache", "rm", "example/two:2", "not/there", "--cache", str(cache))
    # As `docker rmi`: what is there is removed, and the command fails for the rest.
    assert code == 1 and "removed docker.io/example/two:2" in out
    assert err.splitlines()[0] == f"lkcloud: error: not in the cache at {cache}: docker.io/not/there:latest"
    assert len(list((cache / "blobs" / "sha256").iterdir())) == before - 5  # index, manifest, config, 2 layers
    assert len(ImageStore(cache).images()) == 1
    assert ImageStore(cache).local("example/one:1").layers


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_export_import_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    cache = _seeded(tmp_path)
    archive = tmp_path / f"images-{fmt}.tar"
    code, _, err = _run(capsys, "cache", "export", "example/one:1", "example/two:2", "-o", str(archive),
                        "--format", fmt, "--cache", str(cache))
    assert code == 0, err
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert {"oci-layout", "index.json"} <= set(names)
        if fmt == "docker":
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            assert [m["RepoTags"] for m in manifest] == [["example/one:1"], ["example/two:2"]]
    again = tmp_path / "again.tar"
    _run(capsys, "cache", "export", "example/one:1", "example/two:2", "-o", str(again), "--format", fmt,
         "--cache", str(cache))
    assert again.read_bytes() == archive.read_bytes()  # reproducible
    other = tmp_path / "other"
    code, out, _ = _run(capsys, "cache", "import", str(archive), "--cache", str(other))
    assert code == 0 and "imported docker.io/example/two:2" in out
    assert ImageStore(other).local("example/two:2") == ImageStore(cache).local("example/two:2")


def test_import_legacy_docker_save(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer = layer_tar({"bin/legacy": b"old"})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/legacy"]},
                         "rootfs": {"type": "layers", "diff_ids": [media.sha256(layer)]}}).encode()
    manifest = json.dumps([{"Config": "abc.json", "RepoTags": ["legacy:1"], "Layers": ["l1/layer.tar"]}]).encode()
    archive = tmp_path / "legacy.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("manifest.json", manifest), ("abc.json", config), ("l1/layer.tar", layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, _, err = _run(capsys, "cache", "import", str(archive), "--cache", str(tmp_path / "c"))
    assert code == 0, err
    image = ImageStore(tmp_path / "c").local("legacy:1")
    assert image.config.cmd == ("/bin/legacy",)
    assert image.layers[0].media_type == media.OCI_LAYER and image.layers[0].digest == media.sha256(layer)


def test_pull_with_arch(registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arm = make_image([{"arm": b"64"}], arch="arm64")
    push_to(registry.url, "cli/pull:1", make_index([make_image([{"amd": b"64"}]), arm]))
    code, out, err = _run(capsys, "--json", "cache", "pull", registry.ref("cli/pull:1"), "--arch", "arm64",
                          "--cache", str(tmp_path / "c"))
    assert code == 0, err
    assert json.loads(out)[0]["manifest_digest"] == arm.digest
    assert ImageStore(tmp_path / "c", registry=RegistryOptions(use_env=False)).local(
        registry.ref("cli/pull:1"), arch="arm64")


def test_bad_reference_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "cache", "pull", "Bad/Name", "--cache", str(tmp_path / "c"))
    assert code == 2
    assert "lkcloud: error: invalid image reference 'Bad/Name'" in err and "Traceback" not in err


def test_registry_down_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.net import free_port

    host = f"127.0.0.1:{free_port()}"
    code, _, err = _run(capsys, "cache", "pull", f"{host}/x:1", "--cache", str(tmp_path / "c"))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("lkcloud: error:")]
    assert errors == [f"lkcloud: error: cannot reach registry {host}: connection refused"]


def test_export_to_stdout_and_import_from_stdin(tmp_path: Path) -> None:
    """``lkcloud cache export IMG -o - | lkcloud cache import -``, as ``docker save | ...`` is used."""
    from tests.cli.conftest import run_child

    cache = _seeded(tmp_path)
    env = {"LKCLOUD_CACHE": str(cache), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    piped = run_child(["cache", "export", "example/two:2", "-o", "-", "--format", "docker"], tmp_path, env, None)
    assert piped.code == 0 and piped.err == ""
    filed = run_child(["cache", "export", "example/two:2", "-o", "two.tar", "--format", "docker"], tmp_path, env, None)
    assert filed.code == 0
    assert piped.stdout == (tmp_path / "two.tar").read_bytes()  # the same bytes to a pipe as to a file
    other = {**env, "LKCLOUD_CACHE": str(tmp_path / "other")}
    found = run_child(["cache", "import", "-", "-q"], tmp_path, other, (tmp_path / "two.tar").read_bytes())
    assert found.code == 0, found.err
    assert found.out.split() == ["docker.io/example/two:2"]
    assert ImageStore(tmp_path / "other").local("example/two:2") == ImageStore(cache).local("example/two:2")


def test_export_refuses_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    cache = _seeded(tmp_path)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, _, err = _run(capsys, "cache", "export", "example/one:1", "-o", "-", "--cache", str(cache))
    assert code == 2 and "refusing to write binary data to a terminal" in err
