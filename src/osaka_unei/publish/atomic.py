"""Publish a whole directory as one unit, the way SQLite makes a change durable: write,
fsync, rename, fsync the directory.

``link`` (data/processed) is a symlink to ``builds/<build-id>`` beside it. A build is written
into ``builds/.staging-<random>/``, every file and folder of it is fsynced, the folder is
renamed to ``builds/<build-id>``, and only then is the link swapped to it by renaming a new
symlink over the old one. A reader that opens ``link/…`` sees either the whole previous
build or the whole new one; a crash at any point leaves the previous build in place (or,
after the swap, the new one) plus leftovers that the next run removes. The build id is a
hash of the file names and bytes, so an unchanged rebuild finds its own id published and
writes nothing.

Where symlinks are not available (a clone with git's core.symlinks=false holds a small text
file naming the target instead), the link is such a pointer file, replaced the same way.
POSIX only (fcntl, directory fsync).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import filecmp
import functools
import hashlib
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from osaka_unei.errors import BusyError, StoreError
from osaka_unei.store import published_target

BUILDS_NAME = "builds"
LOCK_NAME = ".build.lock"
STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"  # a folder moved aside, to be removed
_NO_SYMLINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
_BUILD_ID = re.compile(r"^[0-9a-f]{16}$")
# A folder published before this module existed holds one of these (or nothing).
_LEGACY_MARKERS = ("datapackage.json", "build_stats.json")


class Busy(BusyError):
    """Another build holds the lock; the message is one line."""


@dataclass(frozen=True, slots=True)
class Published:
    build_id: str
    changed: list[str]  # paths (relative, '/') new or different from the previous build


def builds_dir(link: Path) -> Path:
    return link.parent / BUILDS_NAME


def lock_path(link: Path) -> Path:
    return link.parent / LOCK_NAME


# --- durability -------------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (names created, renamed, removed) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_CHUNK = 1 << 20


def _files(root: Path) -> list[Path]:
    return sorted(
        (path for path in root.rglob("*") if path.is_file()),
        key=lambda path: path.relative_to(root).as_posix(),
    )


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write name → bytes into folder (a name may hold '/': subfolders); no fsync yet."""
    for name, data in files.items():
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"output name outside the build: {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sync_tree(root: Path) -> None:
    """fsync every file under root, then every folder, deepest first: the data must be on
    disk before a name points at it, and each name before the folder holding it is renamed."""
    folders = {root}
    for path in _files(root):
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        folders.update(parent for parent in path.parents if root in parent.parents)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)


def tree_digest(root: Path) -> str:
    """16 hex digits of sha256 over the sorted relative names and bytes of every file."""
    digest = hashlib.sha256()
    for path in _files(root):
        name = path.relative_to(root).as_posix().encode("utf-8")
        digest.update(len(name).to_bytes(8, "big") + name + path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as handle:  # in chunks: a build's database may be large
            for chunk in iter(functools.partial(handle.read, _CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


# --- the lock ---------------------------------------------------------------------------

_held = threading.local()


@contextlib.contextmanager
def lock(path: Path, wait: float) -> Iterator[None]:
    """An exclusive flock on path, waiting at most `wait` seconds, else Busy.

    Re-entrant within one thread (the build holds it and publishing takes it again); the
    kernel drops it when the process dies, so a killed build never leaves it held."""
    held: dict[str, int] = _held.__dict__.setdefault("paths", {})
    key = os.path.abspath(path)
    if key in held:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Busy(
                        f"another build is running ({path} is locked); waited {wait:g} s"
                    ) from None
                time.sleep(min(0.05, left))
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # releases the flock


# --- publishing -------------------------------------------------------------------------


def new_staging(builds: Path) -> Path:
    builds.mkdir(parents=True, exist_ok=True)
    staging = builds / f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    staging.mkdir()
    return staging


def _current_dir(link: Path) -> Path | None:
    """The folder the link names now (a real folder for a pre-symlink checkout)."""
    target = published_target(link)
    if target is not None:
        folder = link.parent / target
        return folder if folder.is_dir() else None
    return link if link.is_dir() else None


def _changed(staging: Path, current: Path | None) -> list[str]:
    names = []
    for path in _files(staging):
        name = path.relative_to(staging).as_posix()
        old = current / name if current is not None else None
        if old is None or not old.is_file() or not filecmp.cmp(old, path, shallow=False):
            names.append(name)
    return names


def _is_legacy(link: Path) -> bool:
    """A real folder in the link's place: an old checkout's dataset, moved aside once."""
    if not link.is_dir() or link.is_symlink():
        return False
    if any(link.iterdir()) and not any((link / name).is_file() for name in _LEGACY_MARKERS):
        raise StoreError(f"{link} is a folder that holds no build: move it away first")
    return True


def swap_link(link: Path, target: str, *, pointer_file: bool = False) -> None:
    """Point link at target (relative to link's folder) in one rename.

    A new symlink (or pointer file) is made beside link and renamed over it: rename(2)
    replaces the name atomically, so a reader resolves either the old or the new target.
    The folder is fsynced so that the new link survives a crash."""
    tmp = link.parent / f".{link.name}.{secrets.token_hex(6)}.new"
    try:
        if not pointer_file:
            try:
                os.symlink(target, tmp)
            except NotImplementedError:
                pointer_file = True
            except OSError as exc:
                if exc.errno not in _NO_SYMLINKS:
                    raise
                pointer_file = True  # no symlinks on this file system: a pointer file
        if pointer_file:
            with tmp.open("wb") as handle:
                handle.write(target.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())  # the pointer's bytes before its name
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(link.parent)


def publish_dir(staging: Path, link: Path) -> Published:
    """Publish the finished staging folder (inside builds_dir(link)) as the new build.

    An unchanged build (same id, already published and intact) removes the staging folder
    and touches nothing else."""
    builds = staging.parent
    build_id = tree_digest(staging)
    final = builds / build_id
    target = os.path.relpath(final, link.parent)
    current = _current_dir(link)
    changed = _changed(staging, current)
    if published_target(link) == target and final.is_dir() and tree_digest(final) == build_id:
        shutil.rmtree(staging)
        return Published(build_id, [])
    pointer_file = link.is_file() and not link.is_symlink()
    legacy = _is_legacy(link)
    sync_tree(staging)  # every byte and name on disk before the build gets its name
    if final.is_dir() and tree_digest(final) == build_id:
        shutil.rmtree(staging)  # got its name by a rename of a synced folder: complete
    else:
        if final.exists():  # hand-edited: moved aside (the link dangles until the swap)
            os.rename(final, builds / f"{OLD_PREFIX}{secrets.token_hex(6)}")
        os.rename(staging, final)
    fsync_dir(builds)  # the build's name survives a crash before the link points at it
    if legacy:
        # One time only: a folder cannot be replaced by a symlink in one rename, so between
        # these two renames (microseconds) data/processed does not exist.
        os.rename(link, builds / f"{OLD_PREFIX}{secrets.token_hex(6)}")
    swap_link(link, target, pointer_file=pointer_file)
    return Published(build_id, changed)


def remove_unused(link: Path) -> None:
    """Remove staging folders, folders moved aside and builds no link beside `link` names.

    Call with the lock held: a staging folder (or a new link not yet renamed over the old)
    then belongs to a build that died."""
    if link.parent.is_dir():
        for entry in link.parent.glob(f".{link.name}.*.new"):
            entry.unlink()
    builds = builds_dir(link)
    if not builds.is_dir():
        return
    keep = set()
    for entry in link.parent.iterdir():
        if entry == link or entry.is_symlink():
            target = published_target(entry)
            if target is not None and (link.parent / target).parent.resolve() == builds.resolve():
                keep.add(Path(target).name)
    for child in builds.iterdir():
        name = child.name
        if name.startswith((STAGING_PREFIX, OLD_PREFIX)) or (
            _BUILD_ID.match(name) and name not in keep
        ):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
