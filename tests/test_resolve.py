"""Every image of a config is found before anything is pulled; all missing ones are reported at
once, each with its file, line and key, the nearest cached name, and how to bring images in."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.oci.reference import parse
from lkcloud.oci.registry import RegistryOptions
from lkcloud.oci.store import ImageStore
from lkcloud.resolve import ImageUse, MissingImagesError, Origin, did_you_mean, image_uses, resolve_images
from tests.servers.registry import RegistryServer, make_image, push_to, registry, seed_store

__all__ = ["registry"]


def test_uses_name_the_line_and_key_of_every_image() -> None:
    first = ("a.yml", "kernel:\n  image: k:1\ninit:\n  - i:1\n  - j:1\nservices:\n  - name: s\n    image: s:1\n")
    second = ("b.yml", "kernel:\n  image: k:2\nvolumes:\n  - name: v\n    image: v:1\n  - name: empty\n")
    assert image_uses([first, second]) == [
        ImageUse("k:2", "b.yml:2: kernel.image"),  # the kernel of the last file that sets one
        ImageUse("i:1", "a.yml:4: init[0]"),
        ImageUse("j:1", "a.yml:5: init[1]"),
        ImageUse("s:1", "a.yml:8: services[0].image"),
        ImageUse("v:1", "b.yml:5: volumes[0].image"),
    ]


def test_did_you_mean_reads_short_names() -> None:
    names = ["docker.io/lkcloud/hello-service:dev", "docker.io/library/alpine:3.20"]
    assert did_you_mean(parse("lkcloud/helo-service:dev"), names) == "lkcloud/hello-service:dev"
    assert did_you_mean(parse("alpin:3.20"), names) == "alpine:3.20"
    assert did_you_mean(parse("something/else:1"), names) is None


def _store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "cache", registry=RegistryOptions(use_env=False))


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.emulator
def test_every_missing_image_at_once_and_nothing_pulled(registry: RegistryServer, tmp_path: Path) -> None:
    store = _store(tmp_path)
    seed_store(store, registry.ref("lk/hello-service:dev"), [{"bin/hello": b"hi"}], tmp=tmp_path)
    push_to(registry.url, "lk/remote:1", make_image([{"bin/remote": b"r" * 100_000}]))
    uses = [ImageUse(registry.ref("lk/hello-service:dev"), "x.yml:2: kernel.image"),
            ImageUse(registry.ref("lk/helo-service:dev"), "x.yml:4: init[0]"),
            ImageUse(registry.ref("lk/remote:1"), "x.yml:5: init[1]"),
            ImageUse(registry.ref("lk/nothing:1"), "x.yml:8: services[0].image")]
    before = _files(store.root)
    with pytest.raises(MissingImagesError) as info:
        resolve_images(uses, store, arch="amd64")
    problems = info.value.problems
    assert len(problems) == 2 and info.value.exit_code == 2  # the registry says these names do not exist
    assert problems[0].startswith(f"x.yml:4: init[0]: {registry.ref('lk/helo-service:dev')}: not in the cache, and ")
    assert problems[0].endswith(f"did you mean {registry.ref('lk/hello-service:dev')}?")
    assert "404" in problems[0]
    assert problems[1].startswith("x.yml:8: services[0].image:") and "did you mean" not in problems[1]
    assert "lkcloud cache import" in (info.value.hint or "") and "~/.linuxkit/cache" in (info.value.hint or "")
    assert _files(store.root) == before  # nothing pulled, nothing written


@pytest.mark.emulator
def test_cache_first_then_the_registry(registry: RegistryServer, tmp_path: Path) -> None:
    store = _store(tmp_path)
    seed_store(store, registry.ref("lk/cached:1"), [{"a": b"a"}], tmp=tmp_path)
    push_to(registry.url, "lk/remote:2", make_image([{"b": b"b"}]))
    uses = [ImageUse(registry.ref("lk/cached:1"), "x.yml:1: init[0]"), ImageUse(registry.ref("lk/remote:2"), "x")]
    assert resolve_images(uses, store, arch="amd64") == {uses[0].ref: Origin.CACHE, uses[1].ref: Origin.REGISTRY}
    with pytest.raises(MissingImagesError, match="--pull asks the registry"):
        resolve_images(uses, store, arch="amd64", pull=True)  # --pull: the cached one must be in the registry too


def test_an_unreachable_registry_is_asked_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    uses = [ImageUse(f"localhost:9/lk/{name}:1", f"x.yml:{line}: init[{line}]") for line, name in enumerate("abc")]
    with pytest.raises(MissingImagesError) as info:
        resolve_images(uses, store, arch="amd64")
    assert len(info.value.problems) == 3 and info.value.exit_code == 1  # not a wrong name: a registry out of reach
    assert all("cannot reach registry localhost:9" in problem for problem in info.value.problems)
