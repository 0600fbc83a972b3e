"""The kernel package: LinuxKit's kernel-image contract (``kernel`` + ``kernel.tar``) from a
Debian kernel package, with a chosen set of modules and the ``modules.dep``/``modules.alias``
that ``depmod`` would have written (Debian generates them at install time, so the .deb has none).

``kernel`` is the package's ``/boot/vmlinuz-*`` as it is: an x86 bzImage for amd64, an
uncompressed arm64 ``Image`` (itself a PE, so the UKI stub can start it) for arm64; its header
is checked against the architecture the package is built for.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lkcloud.diskfile import kernel_arch
from lkcloud.errors import BuildError
from lkcloud.pkg import debian, elf
from lkcloud.pkg.debs import Pool
from lkcloud.pkg.layer import write_layer
from lkcloud.pkg.spec import KernelSpec
from lkcloud.pkg.tree import Staged, parents

COPIED = ("modules.builtin", "modules.builtin.modinfo")


@dataclass(frozen=True)
class Module:
    name: str  # canonical: dashes as underscores
    path: str  # relative to lib/modules/<version>/
    depends: tuple[str, ...]
    aliases: tuple[str, ...]


def _canonical(name: str) -> str:
    return name.replace("-", "_")


def read_module(root: Path, rel: str) -> Module:
    """A module's name, dependencies and aliases from its ``.modinfo`` section."""
    info = elf.section(root / rel, ".modinfo") or b""
    fields = [item.decode(errors="replace").partition("=") for item in info.split(b"\0") if b"=" in item]
    name = next((v for k, _, v in fields if k == "name"), posixpath.basename(rel).removesuffix(".ko"))
    depends = tuple(_canonical(d) for k, _, v in fields if k == "depends" for d in v.split(",") if d)
    aliases = tuple(v for k, _, v in fields if k == "alias")
    return Module(_canonical(name), rel, depends, aliases)


def _closure(modules: dict[str, Module], patterns: Sequence[str]) -> list[str]:
    """Names matching ``patterns`` plus everything they depend on, sorted."""
    chosen: set[str] = set()
    missing = []
    for pattern in patterns:
        found = fnmatch.filter(modules, _canonical(pattern))
        if not found:
            missing.append(pattern)
        chosen.update(found)
    if missing:
        raise BuildError(f"kernel modules not found: {', '.join(missing)}", hint="check kernel.modules in build.yml")
    queue = sorted(chosen)
    while queue:
        for dep in modules[queue.pop()].depends:
            if dep in modules and dep not in chosen:
                chosen.add(dep)
                queue.append(dep)
    return sorted(chosen)


def _load_order(modules: dict[str, Module], name: str) -> list[str]:
    """Every dependency of ``name``, each after the ones it needs (depth-first post-order)."""
    order: list[str] = []

    def visit(current: str) -> None:
        for dep in sorted(modules[current].depends):
            if dep in modules and dep not in order:
                visit(dep)
                order.append(dep)

    visit(name)
    return order


def modules_dep(modules: dict[str, Module], names: Sequence[str]) -> str:
    """``modules.dep`` text: each module, then its dependencies with the last to load first."""
    lines = []
    for name in sorted(names, key=lambda n: modules[n].path):
        deps = [modules[d].path for d in reversed(_load_order(modules, name))]
        lines.append(f"{modules[name].path}:" + "".join(f" {d}" for d in deps))
    return "\n".join(lines) + "\n"


def modules_alias(modules: dict[str, Module], names: Sequence[str]) -> str:
    lines = [f"alias {alias} {name}" for name in sorted(names) for alias in modules[name].aliases]
    return "# Aliases extracted from modules themselves.\n" + "\n".join(lines) + "\n"


def _generated(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _check_image(image: Path, package: str, arch: str) -> None:
    found = kernel_arch(image)
    if found is None or str(found) != arch:
        what = f"an {found} kernel" if found else "no kernel image this builder knows (bzImage or arm64 Image)"
        raise BuildError(f"{package}: /boot/{image.name} is {what}, not one for {arch}",
                         hint="name the Debian kernel package for this architecture in kernel.package")


def kernel_layer(spec: KernelSpec, pool: Pool, work: Path, file: Path) -> Staged:
    """Stage ``kernel`` (bzImage or arm64 Image) and ``kernel.tar`` (modules tree) for the layer."""
    package = debian.resolve_alias(spec.package_for(pool.arch, file), pool.arch)
    tree = pool.add(package)
    images = sorted((tree / "boot").glob("vmlinuz-*"))
    versions = sorted(p.name for p in (tree / "lib" / "modules").glob("*"))
    if len(images) != 1 or len(versions) != 1:
        raise BuildError(f"{package}: expected one /boot/vmlinuz-* and one /lib/modules/<version>")
    _check_image(images[0], package, pool.arch)
    root = tree / "lib" / "modules" / versions[0]
    found = [read_module(root, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*.ko"))]
    modules = {m.name: m for m in found}
    names = _closure(modules, spec.modules)
    prefix = f"lib/modules/{versions[0]}"
    generated = work / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    staged: Staged = {f"{prefix}/{modules[n].path}": root / modules[n].path for n in names}
    staged.update({f"{prefix}/{name}": root / name for name in COPIED if (root / name).exists()})
    kept_order = [line for line in (root / "modules.order").read_text().splitlines() if line in
                  {modules[n].path for n in names}] if (root / "modules.order").exists() else []
    staged[f"{prefix}/modules.order"] = _generated(generated, "modules.order", "".join(f"{x}\n" for x in kept_order))
    staged[f"{prefix}/modules.dep"] = _generated(generated, "modules.dep", modules_dep(modules, names))
    staged[f"{prefix}/modules.alias"] = _generated(generated, "modules.alias", modules_alias(modules, names))
    modules_tar = write_layer(staged, work / "kernel.tar", directories=parents(staged))
    return {"kernel": images[0], "kernel.tar": modules_tar}
