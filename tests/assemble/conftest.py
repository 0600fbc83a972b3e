"""Fixtures: an image store in tmp_path, and a way to assemble a Config into a tar."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lkcloud.assemble import Assembly, assemble
from lkcloud.assemble.image import StoreImages
from lkcloud.assemble.stream import TarSink
from lkcloud.oci.store import ImageStore
from lkcloud.spec.model import Config, ImageConfig

Build = Callable[[Config], tarfile.TarFile]


def label_parser(text: str, source: str) -> ImageConfig:
    from lkcloud.spec.convert import image_config

    return image_config(yaml.safe_load(text))


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "cache")


@pytest.fixture
def assemble_tar(tmp_path: Path, store: ImageStore) -> Build:
    def run(config: Config) -> tarfile.TarFile:
        path = tmp_path / "rootfs.tar"
        with path.open("wb") as fh:
            sink = TarSink(fh)
            job = Assembly(images=StoreImages(store), parse_label=label_parser, write_metadata=lambda c, k: b"meta")
            assemble(config, job, sink.add)
            sink.close()
        return tarfile.open(path)

    return run
