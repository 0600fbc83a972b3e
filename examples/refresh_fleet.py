"""Roll a fleet onto a new image from a script, without the CLI, through the provider kit.

    .venv/bin/python examples/refresh_fleet.py FLEET IMAGE [--provider aws] [--data-file user-data.json]
                                               [--canary 25 --pause 60] [--min-healthy 90]

IMAGE is what `lkcloud fleet refresh` takes: an image id or name, an image file or LinuxKit YAML
(built and pushed first). Credentials, region and endpoints come from the provider's usual
sources (for AWS: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, lkcloud.toml...). Exits 0 when the
refresh succeeded, 1 when it stopped or was rolled back, 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from lkcloud.errors import LkcloudError
from lkcloud.fleet.defaults import defaults
from lkcloud.platform import host_arch, parse_arch
from lkcloud.progress import Task
from lkcloud.provider import registry, release
from lkcloud.userdata.tree import read_user_data


class PrintReporter:
    """A Reporter that prints steps and progress milestones."""

    def step(self, message: str) -> None:
        print(message, flush=True)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        return _PrintTask(description, total)


class _PrintTask:
    def __init__(self, description: str, total: int | None) -> None:
        self.description, self.total, self.done_so_far = description, total, 0

    def advance(self, amount: int = 1) -> None:
        self.done_so_far += amount
        if self.total:
            print(f"  {self.description}: {100 * self.done_so_far // self.total}%", flush=True)

    def done(self) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fleet")
    parser.add_argument("image", nargs="+", help="image id or name, image file, or LinuxKit YAML files")
    parser.add_argument("--provider", default="aws")
    parser.add_argument("--data-file", type=Path)
    parser.add_argument("--arch", help="amd64 or arm64 (default: this machine's)")
    parser.add_argument("--canary", type=int, help="stop at this percent of the fleet for --pause seconds")
    parser.add_argument("--pause", type=int, help="seconds to stay at the --canary checkpoint")
    parser.add_argument("--min-healthy", type=int, help="percent of the fleet that stays healthy")
    args = parser.parse_args()

    reporter = PrintReporter()
    try:
        provider = registry.load(args.provider)
        arch = parse_arch(args.arch) if args.arch else host_arch()
        image = release.image_id(provider, release.classify(args.image), arch=arch, reporter=reporter)
        given = {"canary_percent": args.canary, "pause_seconds": args.pause, "min_healthy_percent": args.min_healthy}
        policy = dataclasses.replace(defaults(args.provider).update,
                                     **{key: value for key, value in given.items() if value is not None})
        user_data = read_user_data(None, args.data_file, args.provider)
        result = provider.fleet_refresh(args.fleet, image, user_data, policy, reporter)
    except LkcloudError as exc:
        print(f"error: {exc}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return exc.exit_code
    print(f"{result.name}: {result.message}: {result.old_image} -> {result.new_image}")
    if result.status is not None:
        for instance in result.status.instances:
            print(f"  {instance.id} {instance.state} v{instance.version} {instance.image}")
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
