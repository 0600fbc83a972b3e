"""The release path, once for every provider: what the user named -> build -> push -> record.

The user names LinuxKit YAML (built into the provider's format first), an image file (checked
for a kind the provider takes), a provider's own image reference, or nothing (the image last
pushed to that provider from this directory).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lkcloud import diskfile
from lkcloud.artifact import file_digest, from_file
from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import records
from lkcloud.provider.interface import Provider
from lkcloud.provider.registry import entry
from lkcloud.provider.types import Artifact, PushResult

BUILD_DIR = Path(".lkcloud") / "build"


@dataclass(frozen=True)
class Source:
    """What a command was told to use as the image: at most one of these is set."""

    configs: tuple[Path, ...] = ()  # LinuxKit YAML to build, merged in order
    file: Path | None = None  # an image file
    ref: str | None = None  # the provider's own reference (an AMI id, an image name, a family...)

    @property
    def empty(self) -> bool:
        return not self.configs and self.file is None and self.ref is None


def classify(values: Sequence[str | Path] | str | Path | None) -> Source:
    """Sort what the user gave: YAML files, one image file, or one provider reference."""
    if values is None:
        return Source()
    items = [str(values)] if isinstance(values, str | Path) else [str(value) for value in values]
    items = [item for item in items if item]
    if not items:
        return Source()
    if all(item.endswith(diskfile.YAML_SUFFIXES) for item in items):
        missing = [item for item in items if not Path(item).is_file()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file")
        return Source(configs=tuple(Path(item) for item in items))
    if len(items) > 1:
        raise UsageError(f"{' '.join(items)}: give one image, or LinuxKit YAML files to build and merge")
    item = items[0]
    if Path(item).is_file() or diskfile.kernel_prefix(item) is not None:
        return Source(file=Path(item))
    return Source(ref=item)


def build_artifacts(configs: Sequence[Path], fmts: Sequence[str], *, arch: Arch, name: str | None = None,
                    reporter: Reporter = NULL, outdir: Path = BUILD_DIR) -> dict[str, Artifact]:
    """Build ``configs`` once into every format of ``fmts``; each output as an artifact."""
    from lkcloud import formats
    from lkcloud.build import BuildOptions, build

    wanted = tuple(dict.fromkeys(fmts))
    result = build(BuildOptions(files=tuple(configs), formats=wanted, name=name, outdir=outdir, arch=arch), reporter)
    made = {}
    for fmt in wanted:
        path = result.outputs[fmt][0]
        kind = diskfile.Kind.KERNEL if path.name.endswith(diskfile.KERNEL_SUFFIX) else diskfile.sniff(path)
        made[fmt] = Artifact(path=path, name=result.name, digest=file_digest(path),
                             boot_mode=formats.get(fmt).boot_mode or BootMode.HYBRID, arch=arch,
                             size=path.stat().st_size, kind=kind)
    return made


def artifact_from_file(path: Path, accepts: Sequence[diskfile.Kind], command: str, *, arch: Arch,
                       boot_mode: BootMode | None = None, name: str | None = None) -> Artifact:
    """An artifact for an image file, refused (before any work) when ``command`` cannot take it."""
    kind = diskfile.expect(path, tuple(accepts), command)
    if kind is diskfile.Kind.KERNEL:
        prefix = diskfile.kernel_prefix(path)
        assert prefix is not None
        path = Path(f"{prefix}{diskfile.KERNEL_SUFFIX}")
    return dataclasses.replace(from_file(path, name=name, boot_mode=boot_mode, arch=arch), kind=kind)


def artifact(provider: Provider, source: Source, *, arch: Arch, family: str | None = None,
             boot_mode: BootMode | None = None, reporter: Reporter = NULL) -> Artifact:
    """The artifact ``source`` names for ``provider``: built from YAML, or an image file."""
    if source.configs:
        fmt = provider.image_format
        return build_artifacts(source.configs, [fmt], arch=arch, name=family, reporter=reporter)[fmt]
    if source.file is not None:
        found = entry(provider.name)
        return artifact_from_file(source.file, found.accepts, f"push {provider.name}", arch=arch,
                                  boot_mode=boot_mode, name=family)
    if source.ref is not None:
        raise UsageError(f"{source.ref}: no such file", hint="give LinuxKit YAML to build, or an image file")
    raise UsageError("nothing to push", hint="give LinuxKit YAML to build, or an image file")


def push(provider: Provider, source: Source, *, arch: Arch, name: str | None = None, family: str | None = None,
         boot_mode: BootMode | None = None, reporter: Reporter = NULL, record: bool = True) -> PushResult:
    """Build (when ``source`` is YAML), push as ``name`` (default: the provider's, from the family
    and the digest), and record the push for this directory."""
    made = artifact(provider, source, arch=arch, family=family, boot_mode=boot_mode, reporter=reporter)
    if name:
        made = dataclasses.replace(made, image_name=name)
    result = provider.push(made, reporter)
    if record:
        records.record(result)
    return result


def last_pushed(provider: str, arch: Arch | None = None) -> records.PushRecord:
    """The image last pushed to ``provider`` from this directory; UsageError when there is none."""
    found = records.last(provider, str(arch) if arch else None) or (records.last(provider) if arch else None)
    if found is None:
        raise UsageError(f"no image given and none pushed to {provider} from this directory",
                         hint=f"give an image, or run `lkcloud push {provider} FILE.yml` first")
    return found


def image_id(provider: Provider, source: Source, *, arch: Arch, reporter: Reporter = NULL) -> str:
    """The image a run or a fleet uses: ``source`` built and pushed, resolved, or the last push."""
    if source.configs:
        return push(provider, source, arch=arch, reporter=reporter).id
    if source.file is not None:
        if entry(provider.name).local_files:
            return provider.resolve_image(str(source.file))
        return push(provider, source, arch=arch, reporter=reporter).id
    if source.ref is not None:
        return provider.resolve_image(source.ref)
    return last_pushed(provider.name, arch).id
