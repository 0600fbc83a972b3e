"""build.yml validation: strict keys, types, every problem with file:line:key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lkcloud.errors import ConfigError
from lkcloud.pkg import spec

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "build.yml").write_text(text)
    return tmp_path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        spec.load(write(tmp_path, text))
    return info.value.problems


def test_valid_package_with_labels(tmp_path: Path) -> None:
    loaded = spec.load(write(tmp_path, """\
image: lkcloud/thing
debs: [busybox-static]
keep: [/bin/busybox]
entrypoint: [/bin/busybox, sh]
env: [A=1]
workdir: /tmp
labels:
  plain: text
  org.mobyproject.config:
    binds: [/run:/run]
    readonly: true
"""))
    assert loaded.image == "lkcloud/thing"
    assert loaded.tag == spec.DEFAULT_TAG
    assert loaded.entrypoint == ("/bin/busybox", "sh")
    labels = dict(loaded.labels)
    assert labels["plain"] == "text"
    assert json.loads(labels["org.mobyproject.config"]) == {"binds": ["/run:/run"], "readonly": True}


def test_every_problem_has_file_line_and_key(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
image: Not/Valid
debs: [busybox-static, "Bad Name"]
keepp: [/bin]
env: [NOVALUE]
workdir: relative
libraries: maybe
""")
    file = tmp_path / "build.yml"
    assert f"{file}:1: image: not a valid image name: 'Not/Valid'" in found
    assert f"{file}:2: debs[1]: not a valid Debian package name: 'Bad Name'" in found
    assert f'{file}:3: keepp: unknown key (did you mean "keep"?)' in found
    assert f"{file}:4: env[0]: expected NAME=VALUE, got 'NOVALUE'" in found
    assert f"{file}:5: workdir: must be an absolute path" in found
    assert f'{file}:6: libraries: expected a boolean, got a string "maybe"' in found


def test_missing_image_duplicate_key_and_types(tmp_path: Path) -> None:
    assert ":2: debs: duplicate key" in "\n".join(problems(tmp_path, "debs: [a]\ndebs: [b]\n"))
    found = problems(tmp_path, "debs: [a]\nentrypoint: /bin/sh\nkernel: {modules: [x]}\n")
    text = "\n".join(found)
    assert ":2: entrypoint: expected a list, got a string" in text
    assert ':3: kernel: missing required key "package"' in text
    assert ':1: missing required key "image"' in text


def test_label_values_must_be_strings(tmp_path: Path) -> None:
    found = problems(tmp_path, "image: a/b\ndebs: [x]\nlabels:\n  count: 3\n")
    assert found == [f"{tmp_path / 'build.yml'}:4: labels.count: expected a string, got an integer (3)"]


def test_needs_content(tmp_path: Path) -> None:
    found = problems(tmp_path, "image: a/b\n")
    assert "a package needs debs, a rootfs/ overlay, or kernel" in found[0]


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    found = problems(tmp_path, "image: [unclosed\n")
    assert found[0].startswith(f"{tmp_path / 'build.yml'}:")
    assert "invalid YAML" in found[0]
    with pytest.raises(ConfigError, match="cannot read"):
        spec.load(tmp_path / "absent")


@pytest.mark.parametrize("name", ["kernel", "init", "runc", "hello-onboot", "hello-service"])
def test_repository_packages_are_valid(name: str) -> None:
    loaded = spec.load(ROOT / "pkg" / name)
    assert loaded.image == f"lkcloud/{name}"
    assert loaded.tag == "dev"


def test_kernel_package_per_architecture(tmp_path: Path) -> None:
    loaded = spec.load(write(tmp_path, "image: a/k\nkernel:\n  package: {amd64: linux-image-cloud-amd64,"
                                       " arm64: linux-image-cloud-arm64}\n"))
    assert loaded.kernel is not None
    assert loaded.kernel.package_for("amd64", loaded.file) == "linux-image-cloud-amd64"
    assert loaded.kernel.package_for("arm64", loaded.file) == "linux-image-cloud-arm64"
    one = spec.load(write(tmp_path, "image: a/k\nkernel: {package: linux-image-cloud-amd64}\n"))
    assert one.kernel is not None and one.kernel.package_for("arm64", one.file) == "linux-image-cloud-amd64"


def test_kernel_package_without_the_architecture_names_it(tmp_path: Path) -> None:
    loaded = spec.load(write(tmp_path, "image: a/k\nkernel:\n  package: {amd64: linux-image-cloud-amd64}\n"))
    assert loaded.kernel is not None
    with pytest.raises(ConfigError) as info:
        loaded.kernel.package_for("arm64", loaded.file)
    assert info.value.message == f"{loaded.file}: kernel.package names no package for arm64 (only for amd64)"


def test_kernel_package_mapping_is_checked(tmp_path: Path) -> None:
    found = problems(tmp_path, "image: a/k\nkernel:\n  package:\n    riscv64: x\n    arm64: Bad Name\n")
    file = tmp_path / "build.yml"
    assert f"{file}:4: kernel.package.riscv64: unknown key" in found
    assert f"{file}:5: kernel.package.arm64: not a valid Debian package name: 'Bad Name'" in found
    found = problems(tmp_path, "image: a/k\nkernel: {package: [x]}\n")
    assert found == [f"{file}:2: kernel.package: expected a string, got a list"]
