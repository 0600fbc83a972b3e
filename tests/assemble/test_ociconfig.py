"""config.json/runtime.json generation against LinuxKit's ConfigToOCI rules."""

from __future__ import annotations

import json

import pytest

from lkcloud.assemble.bundle import allocate_ids, with_volume_paths
from lkcloud.assemble.ociconfig import ALL_CAPS, config_to_oci, go_json, runtime_config
from lkcloud.errors import BuildError
from lkcloud.oci.api import ContainerConfig
from lkcloud.spec.model import Device, Image, ImageConfig, Mount, Runtime, Volume

NO_IMAGE = ContainerConfig()


EMPTY = ImageConfig()


def spec(yaml: ImageConfig = EMPTY, label: ImageConfig | None = None, image: ContainerConfig = NO_IMAGE,
         ids: dict[str, int] | None = None) -> dict:
    return config_to_oci(yaml, label, image, ids or {}).spec


def test_defaults_match_linuxkit() -> None:
    out = spec()
    assert out["ociVersion"] == "1.2.1"
    assert out["process"] == {"user": {"uid": 0, "gid": 0}, "cwd": "/", "capabilities": {}}
    assert out["root"] == {"path": "rootfs"}
    assert [m["destination"] for m in out["mounts"]] == ["/dev", "/dev/pts", "/proc", "/sys", "/sys/fs/cgroup"]
    assert out["linux"] == {"resources": {}, "namespaces": [{"type": "pid"}, {"type": "mount"}]}
    assert "terminal" not in out["process"] and "hostname" not in out and "annotations" not in out


def test_command_env_cwd_precedence_yaml_label_image() -> None:
    image = ContainerConfig(entrypoint=("/entry",), cmd=("arg",), env=("A=image",), working_dir="/work")
    label = ImageConfig(command=("/label",), env=("A=label",), cwd="/label")
    yaml = ImageConfig(command=("/yaml",), env=("A=yaml",), cwd="/yaml")
    assert spec(image=image)["process"]["args"] == ["/entry", "arg"]
    assert spec(image=image)["process"]["env"] == ["A=image"]
    assert spec(image=image)["process"]["cwd"] == "/work"
    assert spec(label=label, image=image)["process"]["args"] == ["/label"]
    assert spec(label=label, image=image)["process"]["env"] == ["A=label"]
    out = spec(yaml, label, image)["process"]
    assert (out["args"], out["env"], out["cwd"]) == (["/yaml"], ["A=yaml"], "/yaml")


def test_capabilities_all_none_add_and_ambient() -> None:
    caps = spec(ImageConfig(capabilities=("all",)))["process"]["capabilities"]
    assert caps["effective"] == list(ALL_CAPS)  # capability-number order
    assert caps["bounding"] == sorted(ALL_CAPS) == caps["permitted"] == caps["inheritable"]
    assert spec(ImageConfig(capabilities=("NONE",)))["process"]["capabilities"] == {}
    label = ImageConfig(capabilities=("CAP_SYS_ADMIN", "CAP_CHOWN"))
    merged = spec(ImageConfig(capabilities_add=("CAP_CHOWN", "CAP_NET_ADMIN")), label)["process"]["capabilities"]
    assert merged["effective"] == ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_CHOWN", "CAP_NET_ADMIN"]  # duplicates kept
    assert merged["bounding"] == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    replaced = spec(ImageConfig(capabilities=("CAP_KILL",), capabilities_add=("CAP_CHOWN",)), label)
    assert replaced["process"]["capabilities"]["effective"] == ["CAP_KILL"]
    ambient = spec(ImageConfig(capabilities=("CAP_KILL",), ambient=("CAP_NET_RAW",)))["process"]["capabilities"]
    assert ambient == {"bounding": ["CAP_KILL", "CAP_NET_RAW"], "effective": ["CAP_KILL"],
                       "inheritable": ["CAP_KILL", "CAP_NET_RAW"], "permitted": ["CAP_KILL", "CAP_NET_RAW"],
                       "ambient": ["CAP_NET_RAW"]}
    with pytest.raises(BuildError, match="unknown capability: CAP_BOGUS"):
        spec(ImageConfig(capabilities=("CAP_BOGUS",)))


def test_namespaces() -> None:
    out = spec(ImageConfig(net="new", ipc="/proc/1/ns/ipc", uts="host", pid="host", userns="new"))
    assert out["linux"]["namespaces"] == [{"type": "network"}, {"type": "ipc", "path": "/proc/1/ns/ipc"},
                                          {"type": "user"}, {"type": "mount"}]
    assert spec(ImageConfig(net="none"))["linux"]["namespaces"][0] == {"type": "network"}
    label_net = spec(ImageConfig(), ImageConfig(net="/run/netns/x"))["linux"]["namespaces"][0]
    assert label_net == {"type": "network", "path": "/run/netns/x"}


def test_mounts_override_order_and_bind_options() -> None:
    yaml = ImageConfig(
        tmpfs=("/tmp:size=10m,mode=1777", "/run"),
        binds=("/var:/var", "/dev:/dev:ro", "/lib/modules:/lib/modules:ro,rslave"),
        mounts=(Mount(destination="/proc", type="proc", options=("ro",)), Mount(source="mqueue")),
        readonly=True,
    )
    out = spec(yaml)
    mounts = {m["destination"]: m for m in out["mounts"]}
    assert [m["destination"] for m in out["mounts"]] == sorted(mounts)
    assert mounts["/tmp"] == {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                              "options": ["size=10m", "mode=1777"]}
    assert mounts["/run"] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs"}
    assert mounts["/var"]["options"] == ["rw", "rbind", "rshared"]
    assert mounts["/dev"] == {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["ro", "rbind"]}
    assert mounts["/lib/modules"]["options"] == ["ro", "rslave", "rbind"]
    assert mounts["/proc"] == {"destination": "/proc", "type": "proc", "source": "proc", "options": ["ro"]}
    assert mounts["/dev/mqueue"] == {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"}
    assert mounts["/sys"]["options"][-1] == "ro"  # readonly adds ro to /sys (and /dev)
    assert out["root"] == {"path": "rootfs", "readonly": True}
    with pytest.raises(BuildError, match="missing type"):
        spec(ImageConfig(mounts=(Mount(destination="/x", source="/y"),)))
    with pytest.raises(BuildError, match="missing ':'"):
        spec(ImageConfig(binds=("/nocolon",)))


def test_binds_add_merges_with_label_binds_unless_yaml_binds() -> None:
    label = ImageConfig(binds=("/a:/a",))
    merged = [m["destination"] for m in spec(ImageConfig(binds_add=("/b:/b",)), label)["mounts"]]
    assert "/a" in merged and "/b" in merged
    replaced = [m["destination"] for m in spec(ImageConfig(binds=("/c:/c",), binds_add=("/b:/b",)), label)["mounts"]]
    assert "/a" not in replaced and "/b" not in replaced and "/c" in replaced


def test_uid_gid_names_resolve_to_allocated_ids() -> None:
    onboot = (Image("a", "x"), Image("b", "x"))
    services = (Image("svc", "x"),)
    ids = allocate_ids((onboot, (Image("down", "x"),), services))
    assert ids == {"a": 100, "b": 101, "down": 102, "svc": 103}
    out = spec(ImageConfig(uid="svc", gid="root", additional_gids=("a", 7)), ids=ids)
    assert out["process"]["user"] == {"uid": 103, "gid": 0, "additionalGids": [100, 7]}
    with pytest.raises(BuildError, match="cannot find id: nobody"):
        spec(ImageConfig(uid="nobody"), ids=ids)


def test_linux_and_process_fields() -> None:
    yaml = ImageConfig(
        no_new_privileges=True, oom_score_adj=-800, rootfs_propagation="shared", cgroups_path="/podruntime/x",
        sysctl=(("net.ipv4.ip_forward", "1"),), rlimits=("nofile,100,unlimited", "RLIMIT_NPROC,1,2"),
        masked_paths=("/proc/kcore",), readonly_paths=("/proc/sys",), hostname="box",
        annotations=(("a", "b"),), resources={"memory": {"limit": 100}, "cpu": {"shares": 2}},
        devices=(Device(path="/dev/kvm", type="c", major=10, minor=232, mode="0666"), Device(path="all", type="b")),
    )
    out = spec(yaml)
    process, linux = out["process"], out["linux"]
    assert process["noNewPrivileges"] is True and process["oomScoreAdj"] == -800
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 100},
                                  {"type": "RLIMIT_NPROC", "hard": 2, "soft": 1}]
    assert out["hostname"] == "box" and out["annotations"] == {"a": "b"}
    assert list(linux) == ["sysctl", "resources", "cgroupsPath", "namespaces", "devices", "rootfsPropagation",
                           "maskedPaths", "readonlyPaths"]
    assert list(linux["resources"]) == ["devices", "memory", "cpu"]
    assert linux["resources"]["devices"] == [
        {"allow": True, "type": "c", "major": 10, "minor": 232, "access": "rwm"},
        {"allow": True, "type": "b", "access": "rwm"},
    ]
    assert linux["devices"] == [{"path": "/dev/kvm", "type": "c", "major": 10, "minor": 232, "fileMode": 0o666}]
    with pytest.raises(BuildError, match="unknown limit"):
        spec(ImageConfig(rlimits=("bogus,1,2",)))


def test_runtime_json_fields_and_label_fallback() -> None:
    label = Runtime(mkdir=("/var/lib/x",), cgroups=("podruntime",))
    yaml = Runtime(mounts=(Mount(destination="/x", type="bind", source="/y", options=("rbind",)),))
    out = runtime_config(yaml, label)
    assert list(out) == ["cgroups", "mounts", "mkdir", "interfaces", "bindNS", "namespace"]
    assert out["cgroups"] == ["podruntime"] and out["mkdir"] == ["/var/lib/x"]
    assert out["mounts"] == [{"destination": "/x", "type": "bind", "source": "/y", "options": ["rbind"]}]
    assert out["bindNS"] == dict.fromkeys(("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"), "")


def test_volume_binds_rewritten_and_readonly_enforced() -> None:
    volumes = {"data": Volume("data"), "ro": Volume("ro", readonly=True)}
    image = Image("svc", "x", ImageConfig(binds=("data:/data", "/etc:/etc"), binds_add=("ro:/ro:ro",)))
    config = with_volume_paths(image, volumes)
    assert config.binds == ("/containers/volumes/data/merged:/data", "/etc:/etc")
    assert config.binds_add == ("/containers/volumes/ro/merged:/ro:ro",)
    with pytest.raises(BuildError, match="read-only"):
        with_volume_paths(Image("svc", "x", ImageConfig(binds=("ro:/ro",))), volumes)
    with pytest.raises(BuildError, match="not found"):
        with_volume_paths(Image("svc", "x", ImageConfig(binds=("nope:/x",))), volumes)


def test_go_json_matches_marshal_indent() -> None:
    text = go_json({"a": ["x<y>&z"], "b": {}, "c": []}).decode()
    assert text == '{\n    "a": [\n        "x\\u003cy\\u003e\\u0026z"\n    ],\n    "b": {},\n    "c": []\n}'
    assert json.loads(text)["a"] == ["x<y>&z"]
