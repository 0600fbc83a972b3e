"""Choosing a package's files: ``keep:`` globs over the unpacked debs, symlink targets, and the
shared libraries (and ELF interpreter) the kept binaries need, found in the debs' dependencies."""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator, Sequence
from pathlib import Path

from lkcloud.errors import BuildError
from lkcloud.fsutil import ancestors
from lkcloud.pkg import elf
from lkcloud.pkg.debs import ARCHES, Pool

# rel path (no leading /) -> the file, directory or symlink on disk it comes from
Staged = dict[str, Path]

MAX_LINKS = 40
SKIPPED_BY_DEFAULT = ("usr/share/doc/*", "usr/share/man/*", "usr/share/lintian/*", "usr/share/bug/*")


def _walk(root: Path) -> Iterator[str]:
    """Relative paths of everything under ``root``, sorted, directories before their contents."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            yield posixpath.normpath(posixpath.join(rel_dir, name)) if rel_dir != "." else name


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    path = "/" + rel
    for raw in patterns:
        pattern = "/" + raw.lstrip("/")
        if fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


def select(tree: Path, keep: Sequence[str]) -> Staged:
    """Files and symlinks of ``tree`` matching ``keep`` (all but docs when ``keep`` is empty)."""
    staged: Staged = {}
    for rel in _walk(tree):
        source = tree / rel
        if source.is_dir() and not source.is_symlink():
            continue
        wanted = _matches(rel, keep) if keep else not _matches(rel, SKIPPED_BY_DEFAULT)
        if wanted:
            staged[rel] = source
            if source.is_symlink() and source.exists():
                stage_chain(staged, tree, rel, strict=False)
    return staged


def stage_chain(staged: Staged, tree: Path, rel: str, *, strict: bool = True) -> Path:
    """Stage ``rel`` from ``tree`` following symlinks inside the tree; returns the final file.

    A link to a path the tree lacks is an error when ``strict``, else the chain stops there.
    """
    for _ in range(MAX_LINKS):
        source = tree / rel
        if not os.path.lexists(source):
            if not strict:
                return source
            raise BuildError(f"{tree.name}: /{rel} is missing (a symlink points to another package)")
        staged[rel] = source
        if not source.is_symlink():
            return source
        target = os.readlink(source)
        base = "" if target.startswith("/") else posixpath.dirname(rel)
        rel = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
        if rel.startswith("../"):
            raise BuildError(f"symlink {source} points outside its package")
    raise BuildError(f"too many levels of symlinks at {tree / rel}")


def _search_dirs(arch: str, runpath: Sequence[str]) -> list[str]:
    triplet = ARCHES[arch][1]
    dirs = [p.lstrip("/") for p in runpath if not p.startswith("$")]
    return [*dirs, f"lib/{triplet}", f"usr/lib/{triplet}", "lib64", "usr/lib64", "lib", "usr/lib"]


def _locate(pool: Pool, candidates: Sequence[str]) -> tuple[Path, str] | None:
    """The first candidate path present in the pool, growing the pool along Depends if needed."""
    while True:
        for rel in candidates:
            found = pool.find(rel)
            if found is not None:
                return found
        if not pool.expand():
            return None


def add_libraries(staged: Staged, pool: Pool) -> list[str]:
    """Stage the interpreter and shared libraries every staged ELF file needs, transitively.

    Returns the sonames added. Raises BuildError naming the binary when a library is in none
    of the debs nor their dependencies.
    """
    queue = sorted(rel for rel, src in staged.items() if src.is_file() and not src.is_symlink() and elf.is_elf(src))
    seen: set[str] = set(queue)
    added: list[str] = []
    while queue:
        rel = queue.pop(0)
        try:
            info = elf.dynamic(staged[rel])
        except elf.ElfError:
            continue  # relocatable objects, firmware, or oddities: nothing to load
        wanted = [(info.interpreter, [info.interpreter.lstrip("/")])] if info.interpreter else []
        dirs = _search_dirs(pool.arch, info.runpath)
        wanted += [(name, [posixpath.join(d, name) for d in dirs]) for name in info.needed]
        for name, candidates in wanted:
            found = _locate(pool, candidates)
            if found is None:
                raise BuildError(
                    f"/{rel} needs {name}, which is in none of the debs or their dependencies",
                    hint="add the Debian package that provides it to debs: in build.yml",
                )
            final = stage_chain(staged, *found)
            final_rel = final.relative_to(found[0]).as_posix()
            if final_rel not in seen:
                seen.add(final_rel)
                queue.append(final_rel)
                added.append(name)
    return added


def add_overlay(staged: Staged, overlay: Path) -> None:
    """Files of a ``rootfs/`` overlay, replacing files of the same path."""
    if not overlay.is_dir():
        return
    for rel in _walk(overlay):
        source = overlay / rel
        if source.is_symlink() or not source.is_dir():
            staged[rel] = source


def parents(staged: Staged) -> list[str]:
    """Every directory that must exist for the staged paths, sorted."""
    return sorted(ancestors(staged))
