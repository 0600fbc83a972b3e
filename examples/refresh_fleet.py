"""Roll an AWS fleet onto a new image from a script, without the CLI.

    .venv/bin/python examples/refresh_fleet.py FLEET IMAGE [--data-file user-data.json] [--canary 25]

IMAGE is an AMI id or name, or a raw disk image file to push first. Credentials, region and
endpoints come from boto3's standard chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
Exits 0 when the refresh succeeded, 1 when it failed or was rolled back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lkcloud.artifact import from_file
from lkcloud.errors import LkcloudError
from lkcloud.metadata import read_user_data
from lkcloud.progress import Task
from lkcloud.provider.types import Provider, UpdatePolicy
from lkcloud_aws.config import AwsOptions
from lkcloud_aws.provider import AwsProvider


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
    parser.add_argument("image")
    parser.add_argument("--data-file", type=Path)
    parser.add_argument("--canary", type=int, help="pause (checkpoint) after this percent of the fleet")
    parser.add_argument("--min-healthy", type=int, default=90)
    args = parser.parse_args()

    reporter = PrintReporter()
    provider: Provider = AwsProvider(AwsOptions.resolve())
    try:
        image = args.image
        if Path(image).is_file():
            image = provider.push(from_file(Path(image)), reporter).image_id
        policy = UpdatePolicy(min_healthy_percent=args.min_healthy, canary_percent=args.canary)
        result = provider.fleet_refresh(args.fleet, image, read_user_data(None, args.data_file, "aws"), policy,
                                        reporter)
    except LkcloudError as exc:
        print(f"error: {exc}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2 if exc.exit_code == 2 else 1
    print(f"{result.name}: {result.message}: {result.old_image} -> {result.new_image}")
    if result.status is not None:
        for instance in result.status.instances:
            print(f"  {instance.id} {instance.state} v{instance.version} {instance.image}")
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
