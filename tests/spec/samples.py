"""Config texts shared by the spec tests."""

from __future__ import annotations

# A config using (nearly) every key of LinuxKit's schema.
FULL = """\
kernel:
  image: linuxkit/kernel:6.12.59
  cmdline: "console=ttyS0"
  binary: bzImage
  tar: none
  ucode: intel-ucode.cpio
init:
  - linuxkit/init:b5506cc74a6812dc40982cacfd2f4328f8a4b12a
  - linuxkit/runc:9442aa234715e751a16144f1d4ae3fd1a00fd492
onboot:
  - name: sysctl
    image: linuxkit/sysctl:43ac1d39da329c3567fcb9689e5ca99de6d169b6
    capabilities: [CAP_SYS_ADMIN, CAP_NET_ADMIN]
    capabilities.add: [CAP_BPF]
    ambient: [CAP_PERFMON]
    readonly: true
    net: host
    pid: host
    ipc: new
    uts: host
    userns: host
    rlimits: ["nofile,100,200", "RLIMIT_CORE,unlimited,unlimited", " Memlock , 1 , UNLIMITED"]
    sysctl:
      net.ipv4.ip_forward: "1"
    oomScoreAdj: -500
services:
  - name: getty
    image: linuxkit/getty:a86d74c8f89be8956330c3b115b0b1f2e09ef6e0
    env: [INSECURE=true]
    command: ["/sbin/getty"]
    cwd: /
    hostname: box
    uid: sysctl
    gid: 0
    additionalGids: [sysctl, 5, root]
    noNewPrivileges: true
    maskedPaths: [/proc/kcore]
    readonlyPaths: [/proc/sys]
    rootfsPropagation: shared
    cgroupsPath: /getty
    tmpfs: ["/tmp:size=10m,mode=1777", /run]
    binds: ["/etc/resolv.conf:/etc/resolv.conf", "/var:/var:rw,rshared"]
    binds.add: ["/lib/modules:/lib/modules"]
    mounts:
      - type: cgroup
        options: ["rw", "nosuid"]
      - source: proc
      - type: overlay
        source: overlay
        destination: writeable-host-etc
        options: ["rw", "lowerdir=/etc"]
        uidmappings: [{containerID: 0, hostID: 1000, size: 1}]
    devices:
      - {path: all, type: b}
      - {path: /dev/null, type: c, major: 1, minor: 3, mode: "0666"}
    uidMappings: [{containerID: 0, hostID: 100000, size: 65536}]
    gidMappings: [{containerID: 0, hostID: 100000, size: 65536}]
    annotations: {org.example/owner: me}
    resources:
      memory: {limit: 1048576, disableOOMKiller: false}
      cpu: {shares: 512, cpus: "0-1"}
      pids: {limit: 100}
      devices: [{allow: true, type: c, major: 1, minor: 3, access: rwm}]
      blockio:
        weight: 10
        throttleReadBpsDevice: [{major: 8, minor: 0, rate: 1000}]
      hugepageLimits: [{pageSize: 2097152, limit: 0}]
      network: {classID: 1, priorities: [{name: eth0, priority: 1}]}
    runtime:
      cgroups: [getty]
      mkdir: [/var/lib/getty]
      mounts:
        - {type: bind, source: /a, destination: /b, options: [rbind]}
      interfaces:
        - {name: eth1, add: veth, peer: veth1, createInRoot: true}
      bindNS: {net: /run/netns/getty, uts: /run/uts}
      namespace: services.linuxkit
onshutdown:
  - name: shutdown
    image: busybox:latest
    command: ["/bin/echo", "bye"]
files:
  - path: /etc/linuxkit-config
    metadata: yaml
  - path: etc/motd
    contents: "hello\\n"
    mode: "0644"
    uid: getty
    gid: 100
  - path: var/lib/docker
    directory: true
  - path: etc/link
    symlink: /etc/motd
  - path: root/.ssh/authorized_keys
    source: ~/.ssh/id_rsa.pub
    optional: true
    mode: "0600"
volumes:
  - name: vol_1
    image: alpine:3.20
    readonly: true
    format: oci
    platforms: [linux/amd64]
  - name: empty
"""

MINIMAL = """\
kernel:
  image: linuxkit/kernel:6.12.59
  cmdline: "console=ttyS0"
init:
  - linuxkit/init:b5506cc74a6812dc40982cacfd2f4328f8a4b12a
onboot:
  - name: dhcpcd
    image: linuxkit/dhcpcd:b87e9ececac55a65eaa592f4dd8b4e0c3009afdb
services:
  - name: getty
    image: linuxkit/getty:a86d74c8f89be8956330c3b115b0b1f2e09ef6e0
"""
