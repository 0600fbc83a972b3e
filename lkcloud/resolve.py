"""Every image a config names, found before anything is pulled.

Each image is looked for once: in the cache (complete and verified for the target architecture),
then, when the cache lacks it or ``--pull`` asks, in its registry (the manifest only; the layers
are pulled later, by the build). Every image that can be had from neither place is reported at
once, each with the file, line and key that names it, the nearest name in the cache, and how to
bring images in.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lkcloud.errors import ImageNotFoundError, LkcloudError, RegistryError
from lkcloud.oci.layout import ref_name
from lkcloud.oci.manifest import is_index, parse_index, select
from lkcloud.oci.reference import DOCKER_HUB, Reference, parse
from lkcloud.oci.store import ImageStore
from lkcloud.spec import document

IMPORT_HINT = ("bring images in with 'lkcloud cache import ARCHIVE' (docker save or OCI archives) or "
               "'lkcloud pkg build DIR', or use LinuxKit's cache with '--cache ~/.linuxkit/cache'")
_LISTS = ("onboot", "onshutdown", "services", "volumes")


@dataclass(frozen=True)
class ImageUse:
    """An image reference as written, and where: ``hello.yml:8: services[0].image``."""

    ref: str
    where: str


class Origin(StrEnum):
    CACHE = "cache"
    REGISTRY = "registry"


class MissingImagesError(ImageNotFoundError):
    """Images of a config that are neither in the cache nor in their registry; ``problems`` has
    one line per image. Exit 2 when a registry said an image does not exist (a wrong name), 1
    when registries could not be reached."""

    def __init__(self, problems: list[str], *, hint: str, wrong_name: bool) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more, hint=hint)
        self.problems = problems
        self.exit_code = 2 if wrong_name else 1


def _item(node: document.Node | None, key: str) -> document.Node | None:
    if node is None or not isinstance(node.value, dict):
        return None
    return node.value.get(key)


def _items(node: document.Node | None) -> list[document.Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def image_uses(sources: Sequence[tuple[str, str]]) -> list[ImageUse]:
    """The images of the (valid) configs ``(name, text)`` merged in order, where each is written:
    the kernel of the last file that sets one, then every init, onboot, onshutdown, service and
    volume image."""
    kernel: ImageUse | None = None
    uses: list[ImageUse] = []
    for name, text in sources:
        root = document.parse(text, name)
        image = _item(_item(root, "kernel"), "image")
        if image is not None and isinstance(image.value, str) and image.value:
            kernel = ImageUse(image.value, f"{name}:{image.line}: kernel.image")
        for index, node in enumerate(_items(_item(root, "init"))):
            uses.append(ImageUse(str(node.value), f"{name}:{node.line}: init[{index}]"))
        for key in _LISTS:
            for index, node in enumerate(_items(_item(root, key))):
                image = _item(node, "image")
                if image is not None and isinstance(image.value, str) and image.value:
                    uses.append(ImageUse(image.value, f"{name}:{image.line}: {key}[{index}].image"))
    return ([kernel] if kernel else []) + uses


def _short(name: str) -> str:
    """Docker's short spelling of a normalised name: ``docker.io/library/redis:7`` -> ``redis:7``."""
    return name.removeprefix(f"{DOCKER_HUB}/").removeprefix("library/")


def did_you_mean(ref: Reference, names: Sequence[str]) -> str | None:
    """The cached name nearest to ``ref``, in its short spelling."""
    short = {_short(name): name for name in names}
    close = difflib.get_close_matches(_short(str(ref)), list(short), n=1, cutoff=0.75)
    return close[0] if close else None


class _Finder:
    def __init__(self, store: ImageStore, arch: str, pull: bool) -> None:
        self.store, self.arch, self.pull = store, arch, pull
        self.unreachable: dict[str, str] = {}  # registry host -> why
        self.wrong_name = False

    def in_cache(self, ref: Reference) -> str | None:
        """None when the cache holds ``ref`` whole for the architecture, else why not."""
        try:
            self.store.local(str(ref), arch=self.arch)
        except LkcloudError as exc:  # absent, for another platform, or damaged (a pull replaces it)
            return exc.message if self.store.layout.find(str(ref)) is not None else "not in the cache"
        return None

    def in_registry(self, ref: Reference) -> str | None:
        """None when the registry has ``ref`` for the architecture, else why not."""
        from lkcloud.oci.pull import sources

        if ref.registry in self.unreachable:
            return self.unreachable[ref.registry]
        failure = "no registry to ask"
        for client in sources(ref, self.store.registry_options):
            try:
                fetched = client.get_manifest(ref.path, ref.target)
                if is_index(fetched.media_type):
                    select(parse_index(fetched.data, str(ref)), self.arch, None, str(ref))
                return None
            except ImageNotFoundError as exc:
                self.wrong_name = True
                failure = exc.message
            except RegistryError as exc:
                failure = exc.message
        if "cannot reach" in failure:
            self.unreachable[ref.registry] = failure
        return failure


def resolve_images(uses: Sequence[ImageUse], store: ImageStore, *, arch: str, pull: bool = False) -> dict[str, Origin]:
    """Where each image will come from (``{ref as written: origin}``), asking each registry only
    for what the cache lacks (everything with ``pull``). Raises :class:`MissingImagesError` naming
    every image that can be had from nowhere."""
    finder = _Finder(store, arch, pull)
    found: dict[str, Origin] = {}
    missing: list[str] = []
    names: list[str] | None = None
    for use in uses:
        if use.ref in found:
            continue
        ref = parse(use.ref)
        cache_why = "--pull asks the registry" if pull else finder.in_cache(ref)
        if cache_why is None:
            found[use.ref] = Origin.CACHE
            continue
        why = finder.in_registry(ref)
        if why is None:
            found[use.ref] = Origin.REGISTRY
            continue
        if names is None:
            names = [name for entry in store.images() if (name := ref_name(entry))]
        guess = did_you_mean(ref, [name for name in names if name != str(ref)])
        suggestion = f"; did you mean {guess}?" if guess else ""
        missing.append(f"{use.where}: {use.ref}: {cache_why}, and {why}{suggestion}")
    if missing:
        raise MissingImagesError(missing, hint=f"the cache is {store.root}; {IMPORT_HINT}",
                                 wrong_name=finder.wrong_name)
    return found
