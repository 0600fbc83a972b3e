"""Loading configs: the LinuxKit corpus, every kind of error with its place, merging, the model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lkcloud.errors import ConfigError
from lkcloud.spec.load import load_files, load_text
from lkcloud.spec.model import Config, MetadataFormat, VolumeFormat
from tests.spec.samples import FULL, MINIMAL

# Files of LinuxKit's examples/ that are not valid YAML (LinuxKit rejects them too).
NOT_YAML = {"static-ip.yml"}


def _problems(text: str, filename: str = "t.yml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename)
    return info.value.problems


def _service(extra: str) -> str:
    """MINIMAL plus settings (indented YAML lines) on its getty service (line 11 on)."""
    return MINIMAL + "".join(f"    {line}\n" for line in extra.strip("\n").splitlines())


def test_corpus_validates(compat_dir: Path) -> None:
    configs = sorted(compat_dir.glob("*.yml"))
    assert len(configs) > 20
    for path in configs:
        if path.name in NOT_YAML:
            continue
        if path.name == "containerd-debug.yml":  # its files[].source is not in the corpus
            with pytest.raises(ConfigError, match="relative to the config's directory"):
                load_files([path])
            continue
        config = load_files([path])
        assert config.sources == (str(path),)
        assert config.kernel.image or path.name.endswith("arm64.yml")


def test_corpus_static_ip_is_rejected_with_its_line(compat_dir: Path) -> None:
    path = compat_dir / "static-ip.yml"
    with pytest.raises(ConfigError) as info:
        load_files([path])
    assert info.value.problems[0].startswith(f"{path}:28: invalid YAML: ")


def test_full_config_converts() -> None:
    config = load_text(FULL, "full.yml")
    assert config.kernel.tar_name is None
    assert config.kernel.binary_name == "bzImage"
    assert len(config.init) == 2
    sysctl = config.onboot[0]
    assert sysctl.config.capabilities == ("CAP_SYS_ADMIN", "CAP_NET_ADMIN")
    assert sysctl.config.readonly is True
    assert sysctl.config.oom_score_adj == -500
    assert sysctl.config.sysctl == (("net.ipv4.ip_forward", "1"),)
    getty = config.services[0]
    assert getty.location is not None and (getty.location.file, getty.location.path) == ("full.yml", "services[0]")
    assert getty.config.uid == "sysctl" and getty.config.gid == 0
    assert getty.config.additional_gids == ("sysctl", 5, "root")
    assert getty.config.runtime is not None and getty.config.runtime.mkdir == ("/var/lib/getty",)
    assert getty.config.runtime.bind_ns is not None and getty.config.runtime.bind_ns.net == "/run/netns/getty"
    assert getty.config.net is None  # not set: the label or the default decides
    files = {f.path: f for f in config.files}
    assert files["etc/linuxkit-config"].metadata is MetadataFormat.YAML
    assert files["etc/motd"].mode == 0o644
    assert files["var/lib/docker"].directory
    assert files["root/.ssh/authorized_keys"].source == str(Path.home() / ".ssh/id_rsa.pub")
    assert config.volumes[0].format is VolumeFormat.OCI
    assert config.volumes[1].format is VolumeFormat.FILESYSTEM


def test_accepted_as_linuxkit_accepts() -> None:
    config = load_text(
        _service("""
capabilities: [CAP_SETGID, CAP_DAC_OVERRIDE, CAP_CHECKPOINT_RESTORE]
mounts:
  - type: cgroup
  - source: proc
  - destination: /dev
runtime:
  mkdir: [/var/lib/docker, /var/lib/aaa]
"""),
        "t.yml",
    )
    assert config.services[0].config.capabilities == ("CAP_SETGID", "CAP_DAC_OVERRIDE", "CAP_CHECKPOINT_RESTORE")


@pytest.mark.parametrize("word", ["all", "ALL", "none", "None"])
def test_lone_all_or_none(word: str) -> None:
    load_text(_service(f"capabilities: [{word}]"), "t.yml")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("capabilities: [CAP_CHOWN, CAP_FOO]", 't.yml:12: services[0].capabilities[1]: unknown capability "CAP_FOO"'),
        (
            "capabilities: [sys_admin]",
            't.yml:12: services[0].capabilities[0]: unknown capability "sys_admin" (did you mean "CAP_SYS_ADMIN"?)',
        ),
        (
            "ambient: [all, CAP_CHOWN]",
            't.yml:12: services[0].ambient[0]: unknown capability "all" ("all" must be the only entry)',
        ),
        (
            "binds: [/nocolon]",
            't.yml:12: services[0].binds[0]: cannot parse bind "/nocolon": expected src:dst[:options]',
        ),
        (
            "binds.add: ['/a:/b:rw:x']",
            't.yml:12: services[0].binds.add[0]: cannot parse bind "/a:/b:rw:x": too many ":"',
        ),
        ("tmpfs: ['/a:b:c']", 't.yml:12: services[0].tmpfs[0]: cannot parse tmpfs "/a:b:c": too many ":"'),
        ("rlimits: ['bogus,1,2']", 't.yml:12: services[0].rlimits[0]: unknown rlimit "bogus" in "bogus,1,2"'),
        (
            "rlimits: ['nofile,1']",
            't.yml:12: services[0].rlimits[0]: cannot parse rlimit "nofile,1": expected name,soft,hard',
        ),
        (
            "rlimits: ['nofile,1,lots']",
            't.yml:12: services[0].rlimits[0]: cannot parse rlimit "nofile,1,lots": '
            '"lots" is not a number or "unlimited"',
        ),
        (
            "devices: [{path: /dev/x, type: c, mode: '0899'}]",
            't.yml:12: services[0].devices[0].mode: mode "0899" is not an octal number',
        ),
        (
            "devices: [{path: /dev/x, type: c}]",
            't.yml:12: services[0].devices[0]: missing required key "mode" (an octal string such as "0666")',
        ),
        (
            "mounts: [{source: foo, destination: /x}]",
            't.yml:12: services[0].mounts[0]: mount for destination "/x" is missing "type"',
        ),
        ("mounts: [{type: tmpfs}]", 't.yml:12: services[0].mounts[0]: mount of type "tmpfs" is missing "destination"'),
        ("readonly: yes", 't.yml:12: services[0].readonly: expected a boolean, got a string "yes"'),
        ("oomScoreAdj: '5'", 't.yml:12: services[0].oomScoreAdj: expected an integer, got a string "5"'),
        ("uid: -1", "t.yml:12: services[0].uid: id -1 is out of range (0 to 4294967295)"),
        (
            "sysctl: {vm.swappiness: 10}",
            "t.yml:12: services[0].sysctl.vm.swappiness: expected a string, got an integer (10)",
        ),
        ("capabilitie: []", 't.yml:12: services[0].capabilitie: unknown key (did you mean "capabilities"?)'),
        ("runtime: {mkdirs: []}", 't.yml:12: services[0].runtime.mkdirs: unknown key (did you mean "mkdir"?)'),
        (
            "resources: {memory: {limit: lots}}",
            't.yml:12: services[0].resources.memory.limit: expected an integer, got a string "lots"',
        ),
        ("env:", "t.yml:12: services[0].env: expected a list, got null"),
        ("uid: nobody", 't.yml:10: services[0].uid: "nobody" is neither a number nor a container name'),
    ],
)
def test_image_errors(extra: str, problem: str) -> None:
    assert _problems(_service(extra)) == [problem]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("- {path: ../etc/x, contents: a}", 't.yml:13: files[0].path: path "../etc/x" leaves the root filesystem'),
        ("- {path: a/../../x, contents: a}", 't.yml:13: files[0].path: path "a/../../x" leaves the root filesystem'),
        ("- {path: /, contents: a}", "t.yml:13: files[0].path: path must name a file below /"),
        ("- {path: a, contents: a, source: /b}", 't.yml:13: files[0]: "contents" and "source" are mutually exclusive'),
        (
            "- {path: a, source: /b, metadata: yaml}",
            't.yml:13: files[0]: "source" and "metadata" are mutually exclusive',
        ),
        (
            "- {path: a, directory: true, contents: x}",
            't.yml:13: files[0].directory: a directory cannot have "contents"',
        ),
        ("- {path: a, symlink: /b, metadata: json}", 't.yml:13: files[0].symlink: a symlink cannot have "metadata"'),
        ("- {path: a, metadata: toml}", 't.yml:13: files[0].metadata: expected "yaml" or "json", got a string "toml"'),
        ("- {path: a, contents: x, mode: rw}", 't.yml:13: files[0].mode: mode "rw" is not an octal number'),
        (
            "- {path: a}",
            't.yml:13: files[0]: no content: give "contents", "source", "metadata", "directory" or "symlink"',
        ),
        ("- {contents: a}", 't.yml:13: files[0]: missing required key "path"'),
        ("- {path: a, contents: 5}", "t.yml:13: files[0].contents: expected a string, got an integer (5)"),
    ],
)
def test_file_errors(entry: str, problem: str) -> None:
    assert _problems(MINIMAL + "files:\n  " + entry + "\n") == [problem]


def test_volume_errors() -> None:
    text = (
        MINIMAL + "volumes:\n  - name: Bad\n  - name: ok\n  - name: ok\n  - image: alpine\n  - {name: x, format: tar}\n"
    )
    assert _problems(text) == [
        't.yml:13: volumes[0].name: invalid volume name "Bad": use lower-case letters, digits, "_" and "-"',
        't.yml:16: volumes[3]: missing required key "name"',
        't.yml:17: volumes[4].format: expected "oci" or "filesystem", got a string "tar"',
    ]
    text = MINIMAL + "volumes:\n  - name: ok\n  - name: ok\n"
    assert _problems(text) == ['t.yml:14: volumes[1].name: duplicate volume name "ok" (first at t.yml:13)']


def test_top_level_errors() -> None:
    assert _problems("- a\n- b\n") == ["t.yml:1: expected a mapping (a LinuxKit config), got a list"]
    assert _problems("---\n") == ["t.yml: the file is empty"]
    assert _problems("") == ["t.yml: the file is empty"]
    assert _problems(MINIMAL + "unknownField: abc\n") == ["t.yml:12: unknownField: unknown key"]
    assert _problems(MINIMAL + "onshutdown:\n") == ["t.yml:12: onshutdown: expected a list, got null"]
    assert _problems(MINIMAL + "  - name: x\n") == ['t.yml:12: services[1]: missing required key "image"']
    assert _problems(MINIMAL + "  - {name: a/b, image: x}\n") == [
        't.yml:12: services[1].name: name "a/b" must not contain "/" or be "." or ".."'
    ]


def test_invalid_image_reference() -> None:
    problems = _problems(MINIMAL + "  - {name: x, image: 'Not A Ref'}\n")
    assert len(problems) == 1 and problems[0].startswith("t.yml:12: services[1].image: ")


def test_pkg_templates_are_accepted() -> None:
    load_text(MINIMAL + "  - {name: x, image: '@pkg:./pkg/foo'}\n", "t.yml")


def test_duplicate_service_names() -> None:
    assert _problems(MINIMAL + "  - {name: getty, image: alpine}\n") == [
        't.yml:12: services[1].name: duplicate service name "getty" (first at t.yml:10)'
    ]
    load_text(MINIMAL.replace("getty", "dhcpcd") + "onshutdown:\n  - {name: dhcpcd, image: alpine}\n", "t.yml")


def test_all_problems_are_reported() -> None:
    text = _service("readonly: 1\ncapabilities: [CAP_X]\nbinds: [x]") + "files:\n  - {path: ../x, contents: a}\n"
    problems = _problems(text)
    assert [p.split(":")[1] for p in problems] == ["12", "13", "14", "16"]


def test_trust_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load_text(MINIMAL + "trust:\n  org: [linuxkit]\n", "t.yml")
    assert "t.yml:12: trust: ignored" in caplog.text
    assert _problems(MINIMAL + "trust:\n  orgs: [linuxkit]\n") == [
        't.yml:13: trust.orgs: unknown key (did you mean "org"?)'
    ]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_merge_files(tmp_path: Path) -> None:
    base = _write(tmp_path, "base.yml", MINIMAL)
    extra = _write(
        tmp_path,
        "extra.yml",
        "kernel:\n  cmdline: console=tty0\n  tar: ''\ninit: [linuxkit/ca-certificates:1]\n"
        "services:\n  - {name: sshd, image: linuxkit/sshd:1, uid: dhcpcd}\nfiles:\n  - {path: x, contents: y}\n",
    )
    config = load_files([base, extra])
    assert config.sources == (str(base), str(extra))
    assert config.kernel.image == "linuxkit/kernel:6.12.59"  # empty fields do not override
    assert config.kernel.cmdline == "console=tty0"
    assert config.kernel.tar == "" and config.kernel.tar_name is None
    assert [s.name for s in config.services] == ["getty", "sshd"]
    assert len(config.init) == 2 and len(config.files) == 1
    assert config.services[1].location is not None and config.services[1].location.file == str(extra)


def test_merge_rechecks_uniqueness(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yml", MINIMAL)
    b = _write(tmp_path, "b.yml", "services:\n  - name: getty\n    image: alpine\n")
    with pytest.raises(ConfigError) as info:
        load_files([a, b])
    assert info.value.problems == [f'{b}:2: services[0].name: duplicate service name "getty" (first at {a}:10)']


def test_merge_reports_problems_of_every_file(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yml", "init: 5\n")
    b = _write(tmp_path, "b.yml", "kernel: [x]\n")
    with pytest.raises(ConfigError) as info:
        load_files([a, b, tmp_path / "missing.yml"])
    assert info.value.problems[0] == f"{a}:1: init: expected a list, got an integer (5)"
    assert info.value.problems[1] == f"{b}:1: kernel: expected a mapping, got a list"
    assert info.value.problems[2].startswith(f"{tmp_path / 'missing.yml'}: cannot read")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.yml"
    path.write_bytes(b"kernel:\n  image: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_files([path])


def test_no_files() -> None:
    with pytest.raises(ConfigError):
        load_files([])


def test_config_is_frozen() -> None:
    config = load_text(MINIMAL, "t.yml")
    assert isinstance(config, Config)
    with pytest.raises(AttributeError):
        config.init = ()  # type: ignore[misc]
