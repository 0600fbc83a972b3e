"""The QEMU provider's own options (the CLI builds its flags from this table)."""

from __future__ import annotations

from pathlib import Path

from lkcloud.platform import BootMode
from lkcloud.provider.options import LAUNCH, ProviderOption, ProviderOptions, Verb
from lkcloud_qemu import config as c

RUN = frozenset({Verb.RUN})

OPTIONS = ProviderOptions(options=(
    ProviderOption("mem", ("--mem",), "guest memory in MiB", type=int, verbs=LAUNCH, setting=c.MEM),
    ProviderOption("cpus", ("--cpus",), "guest CPUs", type=int, verbs=LAUNCH, setting=c.CPUS),
    ProviderOption("accel", ("--accel",), "auto (KVM if it can run a guest, else TCG), kvm or tcg", verbs=LAUNCH,
                   setting=c.ACCEL),
    ProviderOption("state_dir", ("--state",), "state directory of the VM (default: .lkcloud/qemu/NAME)",
                   type=Path, verbs=RUN),
    ProviderOption("boot", ("--boot",), "bios or uefi (default: read from the image)", type=BootMode, verbs=RUN),
    ProviderOption("disks", ("--disk",), "PATH[,size=4G][,format=qcow2]: an extra disk (repeatable)", verbs=RUN,
                   multiple=True, comma_list=False),
    ProviderOption("publish", ("--publish", "-p"), "HOST:GUEST: forward 127.0.0.1:HOST (repeatable)", verbs=RUN,
                   multiple=True, comma_list=False),
    ProviderOption("cmdline", ("--cmdline",), "appended to the kernel command line", verbs=RUN),
    ProviderOption("detach", ("--detach", "-d"), "run in the background", type=bool, verbs=RUN),
    ProviderOption("wait_for", ("--wait-for",), "exit 0 once the console matches this regex", verbs=RUN),
    ProviderOption("timeout", ("--timeout",), "seconds --wait-for waits", type=float, verbs=RUN,
                   setting=c.TIMEOUT),
    ProviderOption("stop", ("--stop",), "stop the detached VM named IMAGE (a name or a state directory)",
                   type=bool, verbs=RUN),
))
