"""Publish a folder at a stable path (data/processed, data/report) so that its readers see one
build, whole, and a crash at any point leaves the old build or the new one.

The folder holds real files at stable names, so that git shows after a rebuild only the
files whose bytes changed, and a rebuild that changes nothing rewrites nothing. A build is
published like a database commit (the on-disk format is ``osaka_unei.published``):

1. every file is written into a staging folder beside the folder
   (``data/.processed.staging-<hex>/``), and the manifest (datapackage.json, or the
   report's report-inputs.json) gets a ``build`` section: the build id and every file's
   sha256;
2. the files that differ from the folder's (and the manifest) are fsynced, then a journal
   (``data/.processed.journal``) naming the staging folder, the files to replace and the
   files to remove is written and fsynced: from here on the build is committed;
3. each changed file is renamed into place (one rename each: a file is always whole), the
   folders fsynced, then the manifest last; files of the previous build that this one no
   longer has are removed; the journal is removed, then the staging folder.

A reader (``published.read_build``: ``load()``, the report) reads the manifest and the files
from the staging folder a journal names, else from the folder, and checks each against the
manifest's hashes, so it never takes a mix of two builds. A crash after step 2 is rolled
forward by the next build (under the lock) before it reads anything; before it, the
staging folder is a leftover that the next build removes. The build replaces and removes
only files it owns (those its previous manifest lists): anything else in the folder is left
alone, and a file of a new name that is already there and not the build's is refused.

A checkout from before stable paths holds a symlink (or, where git's core.symlinks is false,
a pointer file) naming ``data/builds/<id>/``: its first build is renamed into place as a
whole folder instead (between the two renames, microseconds, the folder does not exist;
readers read the staging folder meanwhile), and the old build folder is removed unless
another link still names it; ``data/builds/`` goes with the last one.
POSIX only (fcntl, directory fsync).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

from osaka_unei.errors import BusyError, StoreError
from osaka_unei.published import (
    BUILD_KEY,
    build_files,
    file_hash,
    journal_path,
    read_journal,
    staging_prefix,
)
from osaka_unei.store import published_target, resolve_published

LOCK_NAME = ".build.lock"
_CHUNK = 1 << 20
_OLD_BUILD_LEFTOVERS = (".staging-", ".old-")  # what the symlink layout's killed builds left
_BUILD_ID = re.compile(r"^[0-9a-f]{16}$")


class Busy(BusyError):
    """Another build holds the lock; the message is one line."""


@dataclass(frozen=True, slots=True)
class Published:
    build_id: str
    changed: list[str]  # files written (new or different bytes), the manifest included
    removed: list[str] = field(default_factory=list)  # files of the previous build, gone


def lock_path(folder: Path) -> Path:
    return folder.parent / LOCK_NAME


# --- durability -------------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (names created, renamed, removed) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


# fsync waits for the disk with the GIL released: many files (a report's ~900 pages) are
# synced by a few threads at once, so that their waits overlap (the file system commits
# them together) instead of adding up, one journal commit each.
_SYNC_THREADS = 16
_SYNC_SERIAL = 8  # fewer files than this: one after another


def fsync_files(paths: list[Path]) -> None:
    """fsync every file; returns once all are durable (raises the first error, after every
    sync has ended)."""
    if len(paths) < _SYNC_SERIAL:
        for path in paths:
            _fsync_file(path)
        return
    with ThreadPoolExecutor(min(_SYNC_THREADS, len(paths)), "fsync") as pool:
        for future in [pool.submit(_fsync_file, path) for path in paths]:
            future.result()


def _files(root: Path) -> list[str]:
    """Every file under root, as sorted relative '/' names."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write name → bytes into folder (a name may hold '/': subfolders); no fsync yet."""
    for name, data in files.items():
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"output name outside the build: {name}")
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def hash_file(path: Path) -> str:
    """ "sha256:<hex>" of a file, read in chunks (a build's database may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _same(path: Path | str, digest: str, staged: Path | str | None = None) -> bool:
    """Whether path is a file (not a link) with these bytes: the digest's, or those of
    `staged` when it is that very file (a hard link to it: no need to read it again)."""
    try:
        stat = os.lstat(path)
    except OSError:  # not there, or a parent is a file
        return False
    if not S_ISREG(stat.st_mode):
        return False
    if staged is not None and os.path.samestat(stat, os.lstat(staged)):
        return True
    return hash_file(Path(path)) == digest


def json_bytes(value: Any) -> bytes:
    """A JSON file's bytes as every published JSON file is written (UTF-8, indented)."""
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def stamp_manifest(base: dict[str, Any], hashes: Mapping[str, str]) -> tuple[str, bytes]:
    """The build id (16 hex digits of sha256 over every file's name and hash) and the
    manifest's bytes: base with each resource's Frictionless `hash` and the build section."""
    digest = hashlib.sha256()
    for name, value in sorted(hashes.items()):
        digest.update(f"{name}\0{value}\n".encode())
    build_id = digest.hexdigest()[:16]
    manifest = {key: value for key, value in base.items() if key != BUILD_KEY}
    for resource in manifest.get("resources", []):
        if isinstance(resource, dict) and resource.get("path") in hashes:
            resource["hash"] = hashes[resource["path"]]
    manifest[BUILD_KEY] = {"id": build_id, "files": dict(sorted(hashes.items()))}
    return build_id, json_bytes(manifest)


def unstamp_manifest(data: bytes) -> bytes:
    """A published manifest's bytes as they were before stamp_manifest (b"" if unreadable)."""
    try:
        manifest = json.loads(data)
    except ValueError:
        return b""
    if not isinstance(manifest, dict):
        return b""
    manifest.pop(BUILD_KEY, None)
    for resource in manifest.get("resources", []):
        if isinstance(resource, dict):
            resource.pop("hash", None)
    return json_bytes(manifest)


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


# --- the previous build -------------------------------------------------------------------


def _link_target(entry: Path) -> str | None:
    """What a symlink or pointer file of the old layout names (None for anything else)."""
    if entry.is_symlink():
        return os.readlink(entry)
    if not entry.is_file() or entry.stat().st_size > 1024:
        return None
    try:
        return published_target(entry)
    except (ValueError, OSError):
        return None


def _owned(folder: Path, manifest_name: str) -> dict[str, str]:
    """The files folder's build owns, name → hash: those its manifest lists, and the
    manifest (hash "": itself)."""
    try:
        manifest = json.loads((folder / manifest_name).read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except ValueError:
        return {}  # not a manifest of ours: refused below as a file we do not own
    files = build_files(manifest) if isinstance(manifest, dict) else None
    return {} if files is None else files | {manifest_name: ""}


def _remove_empty_parents(folder: Path, name: str, touched: set[Path]) -> None:
    parent = (folder / name).parent
    while parent != folder and folder in parent.parents:
        try:
            os.rmdir(parent)
        except OSError:
            return  # not empty (or already gone): it holds someone's files
        touched.add(parent.parent)
        parent = parent.parent


# --- the stat index: files known intact without reading them ------------------------------
#
# Like git's index: beside the folder (``data/.report.index``, a cache, never published), each
# file of the build with its sha256 and the (size, mtime, ctime, inode, device) it had when
# its bytes were last read and found to have that hash. A file whose lstat still gives those
# has not changed: any write, truncation, rename over it or chmod sets its ctime to the
# current time, and ctime cannot be set by hand. The race git calls "racy clean" (a change
# in the same clock tick as the stat, leaving ctime as it was) is closed by recording only
# what cannot be racy: a file whose ctime is older than a time T taken, on the folder's own
# file system clock (a probe file's ctime), before its bytes were read; a change after the
# read has a ctime of T or later, which differs. So an entry is written only for a file read
# and hashed after T (or one whose entry still holds), never for one only just renamed into
# place; such a file is read on the next check, then trusted. An index that is missing,
# damaged or stale costs reads, never a wrong answer (an entry holds only while its stat
# does). Not trusted across clock steps backwards of the machine (as git's).

INDEX_SUFFIX = ".index"
_INDEX_VERSION = 1


def index_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}{INDEX_SUFFIX}"


def _stat_key(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


_index_read: dict[str, tuple[list[int], dict[str, list[Any]]]] = {}  # one parse a file state


def _read_index(folder: Path) -> dict[str, list[Any]]:
    path = index_path(folder)
    try:
        with path.open("rb") as handle:
            state = _stat_key(os.fstat(handle.fileno()))
            memo = _index_read.get(str(path))
            if memo is not None and memo[0] == state:
                return memo[1]
            found = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or found.get("version") != _INDEX_VERSION:
        return {}
    files = found.get("files")
    if not isinstance(files, dict):
        return {}
    _index_read.clear()
    _index_read[str(path)] = (state, files)
    return files


class _Index:
    """The stat index of folder, read once: `holds(name, digest)` without reading the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries = _read_index(folder)

    def holds(self, name: str, digest: str, stat: os.stat_result | None = None) -> bool:
        entry = self.entries.get(name)
        if not isinstance(entry, list) or len(entry) != 6 or entry[0] != digest:
            return False
        if stat is None:
            try:
                stat = os.lstat(os.path.join(self.folder, name))
            except OSError:
                return False
        return S_ISREG(stat.st_mode) and entry[1:] == _stat_key(stat)


def _read_regular(path: str, *, strict: bool = False) -> bytes | None:
    """A regular file's bytes, not through a symlink (None: missing, a link, not a file, or
    unreadable; strict: an OSError is raised)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            if not S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read()
        finally:
            os.close(fd)
    except OSError:
        if strict:
            raise
        return None


def verified(folder: Path, expected: Mapping[str, str]) -> set[str]:
    """The names (of expected: name → "sha256:…") whose file in folder is a regular file with
    those bytes: by the stat index where its entry holds, else read and hashed. Call with the
    lock held (what is verified is then carried over by publish_dir(kept=…))."""
    index = _Index(folder)
    found = set()
    for name, digest in expected.items():
        if index.holds(name, digest):
            found.add(name)
            continue
        data = _read_regular(os.path.join(folder, name))
        if data is not None and file_hash(data) == digest:
            found.add(name)
    return found


def record_index(folder: Path, files: Mapping[str, str], read: bool = True) -> None:
    """Write the stat index of folder's build (just published, lock held; files: name →
    hash, as its manifest names them): every file whose entry still holds, and (`read`)
    every other file read now, after the probe time T, with that hash and a ctime before T
    (see above). Without `read` (a build that kept nothing: every file is new) nothing is
    read back: the next build that keeps files reads them once, then trusts them."""
    index = _Index(folder)
    path = index_path(folder)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("wb") as handle:
            probe = os.fstat(handle.fileno()).st_ctime_ns  # T, on the file system's clock
            entries: dict[str, list[Any]] = {}
            for name, digest in sorted(files.items()):
                target = os.path.join(folder, name)
                try:
                    stat = os.lstat(target)
                except OSError:
                    continue
                if not S_ISREG(stat.st_mode) or stat.st_ctime_ns >= probe:
                    continue  # racy: read on the next check
                if not index.holds(name, digest, stat):
                    if not read:
                        continue
                    data = _read_regular(target)
                    if data is None or file_hash(data) != digest:
                        continue
                    again = os.lstat(target)
                    if _stat_key(again) != _stat_key(stat):
                        continue
                entries[name] = [digest, *_stat_key(stat)]
            index_data = {"version": _INDEX_VERSION, "files": entries}
            handle.write(json.dumps(index_data, separators=(",", ":")).encode())
        os.replace(tmp, path)  # not fsynced: a cache (torn or lost, it is only read again)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _stage_kept(staging: Path, source: Path, kept: Mapping[str, str]) -> None:
    """Kept files written into the staging folder after all (a build renamed in whole),
    from source, each checked against its hash."""
    for name, digest in kept.items():
        data = _read_regular(os.path.join(source, name), strict=True)
        if data is None or file_hash(data) != digest:
            raise StoreError(f"{source / name} changed while the build was published")
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)


class _IndexCheck:
    """Whether a staged file's bytes are those of folder's file by the stat index alone (the
    previous manifest names the same hash and the index entry holds): no need to read it."""

    def __init__(self, folder: Path, owned: Mapping[str, str]) -> None:
        self.owned = owned
        self.index = _Index(folder) if owned else None

    def same(self, name: str, digest: str) -> bool:
        return (
            self.index is not None
            and self.owned.get(name) == digest
            and self.index.holds(name, digest)
        )


# --- publishing -------------------------------------------------------------------------


def new_staging(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f"{staging_prefix(folder)}{secrets.token_hex(6)}"
    staging.mkdir()
    return staging


def publish_dir(
    staging: Path,
    folder: Path,
    manifest_name: str,
    known: Mapping[str, str] | None = None,
    kept: Mapping[str, str] | None = None,
) -> Published:
    """Publish the finished staging folder (beside folder, from new_staging) as folder's
    build; call with the lock held, after recover(). An unchanged build removes the staging
    folder and touches nothing else. Raises ValueError (one line), before anything is
    written, when a file the build would write is there and not the previous build's.
    known: the hashes (file_hash) of staged files whose writer made them from the bytes it
    wrote, not read again; every other file is read and hashed.
    kept: files of the new build that are not staged because folder holds them already,
    name → hash, each checked by the caller under the lock (`verified`) to be a file of
    folder's build with those bytes: carried over as they are (never renamed or removed,
    listed with their hash in the new manifest). Given (even empty), the publish also
    records the stat index that lets the next `verified` trust unchanged files cheaply."""
    try:
        done, files = _publish(staging, folder, manifest_name, known or {}, kept)
    except BaseException:
        # Before the journal the staging folder is only a leftover; after it, it holds the
        # committed build that the next build (or a reader) rolls forward from.
        journal = _try_read_journal(folder)
        if journal is None or journal.get("staging") != staging.name:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if kept is not None:
        with contextlib.suppress(OSError):  # a cache: without it, files are read again
            record_index(folder, files, read=bool(kept))
    return done


def _try_read_journal(folder: Path) -> dict[str, Any] | None:
    try:
        return read_journal(folder)
    except (ValueError, OSError):
        return None


def _publish(
    staging: Path,
    folder: Path,
    manifest_name: str,
    known: Mapping[str, str],
    kept: Mapping[str, str] | None,
) -> tuple[Published, dict[str, str]]:
    """The publish, and the build's files (name → hash, the manifest's own not among them)."""
    names = [name for name in _files(staging) if name != manifest_name]
    hashes = {name: known.get(name) or hash_file(staging / name) for name in names}
    kept = dict(kept or {})
    if kept.keys() & {*hashes, manifest_name}:
        raise ValueError("a file is both staged and kept: " + min(kept.keys() & {*hashes}))
    link = _link_target(folder)
    if kept and (link is not None or not folder.is_dir()):
        # renamed in whole (the first build since the symlink layout): the kept files are
        # staged after all, from the folder the link names, and checked again
        _stage_kept(staging, resolve_published(folder), kept)
        names, hashes, kept = sorted([*names, *kept]), hashes | kept, {}
    hashes |= kept
    try:
        base = json.loads((staging / manifest_name).read_bytes())
    except FileNotFoundError:
        base = {}
    build_id, manifest = stamp_manifest(base, hashes)
    files = dict(hashes)
    (staging / manifest_name).write_bytes(manifest)
    hashes[manifest_name] = file_hash(manifest)

    whole = link is not None or not (folder.exists() or folder.is_symlink())
    if whole:  # the first build, or the first since the symlink layout: renamed in whole
        previous = folder.parent / link if link is not None else None
        changed = [
            name
            for name in [*names, manifest_name]
            if previous is None or not _same(previous / name, hashes[name])
        ]
        removed: list[str] = []
        to_sync = [*names, manifest_name]
    else:
        if not folder.is_dir():
            raise StoreError(f"{folder} is neither a folder nor a link to a build")
        owned = _owned(folder, manifest_name)
        index = _IndexCheck(folder, owned)
        changed = [  # str paths: for ~900 files pathlib's parsing is most of the time
            name
            for name in names
            if not index.same(name, hashes[name])
            and not _same(os.path.join(folder, name), hashes[name], os.path.join(staging, name))
        ]
        if (folder / manifest_name).is_symlink() or not _same(
            folder / manifest_name, hashes[manifest_name]
        ):
            changed.append(manifest_name)
        # A name in the way (not the build's, or a folder where a file goes, or a file
        # where a folder goes) is refused now: the renames after the journal cannot fail on it.
        foreign = [
            name
            for name in changed
            if (name not in owned and os.path.lexists(folder / name))
            or (folder / name).is_dir()
            or _blocked(folder, name)
        ]
        # a kept file is the previous build's, with the same hash (the caller checked its
        # bytes against the manifest it read; this is the manifest under the lock)
        gone = sorted(name for name, digest in kept.items() if owned.get(name) != digest)
        if gone:
            raise StoreError(
                f"{folder}'s build no longer holds files this build keeps ({gone[0]}"
                + (f" and {len(gone) - 1} more" if gone[1:] else "")
                + "): another build was published meanwhile; build again"
            )
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if foreign[3:] else ""
            )
            raise StoreError(
                f"{folder} holds files in the way of this build that no build published "
                f"there ({shown}): move them away and build again"
            )
        removed = sorted(
            name
            for name in owned.keys() - hashes.keys()
            if (folder / name).is_file() and not (folder / name).is_symlink()
        )
        if not changed and not removed:
            shutil.rmtree(staging)
            return Published(build_id, [], []), files
        to_sync = changed
    # Every byte on disk before a name can point at it.
    dirs = {staging}
    fsync_files([staging / name for name in to_sync])
    for name in to_sync:
        dirs.update(p for p in (staging / name).parents if staging in p.parents)
    for path in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(path)
    journal = {
        "build": build_id,
        "staging": staging.name,
        "manifest": manifest_name,
        "whole": whole,
        "old_build": link,
        # the manifest last: once it is in place, every file it names is
        "replace": [name for name in changed if name != manifest_name] + [manifest_name],
        "remove": removed,
    }
    _write_journal(folder, journal)
    roll_forward(folder, journal)
    return Published(build_id, changed, removed), files


def _blocked(folder: Path, name: str) -> bool:
    """A parent of name is something other than a folder (a user's file, or a link)."""
    return any(
        parent.is_symlink() or (parent.exists() and not parent.is_dir())
        for parent in (folder / name).parents
        if folder in parent.parents
    )


def _write_journal(folder: Path, journal: dict[str, Any]) -> None:
    path = journal_path(folder)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(json_bytes(journal))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(folder.parent)  # the commit point: the journal's name on disk


def roll_forward(folder: Path, journal: dict[str, Any]) -> None:
    """Finish publishing the build the journal names; safe to repeat after a crash."""
    staging = folder.parent / journal["staging"]
    if journal["whole"]:
        if folder.is_symlink() or folder.is_file():
            os.unlink(folder)  # the old layout's link (its build folder stays until below)
        if staging.is_dir():
            os.rename(staging, folder)
        fsync_dir(folder.parent)
        if journal.get("old_build"):
            _remove_old_build(folder, journal["old_build"])
    else:
        touched: set[Path] = set()
        for name in journal["replace"]:
            source, target = staging / name, folder / name
            if name == journal["manifest"]:
                for path in sorted(touched, key=lambda p: len(p.parts), reverse=True):
                    fsync_dir(path)  # every file in place before the manifest names them
                touched = set()
            if source.is_file():
                for parent in reversed(target.parents):
                    if folder in parent.parents and not parent.is_dir():
                        os.mkdir(parent)
                        touched.add(parent.parent)
                os.replace(source, target)
                touched.add(target.parent)
        for name in journal["remove"]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
            touched.add((folder / name).parent)
            _remove_empty_parents(folder, name, touched)
        for path in sorted(touched, key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                fsync_dir(path)
    os.unlink(journal_path(folder))
    fsync_dir(folder.parent)
    shutil.rmtree(staging, ignore_errors=True)


def _remove_old_build(folder: Path, target: str) -> None:
    """After the move to stable paths: the build folder folder's link named, unless another
    link (the report's, say) names it; data/builds/ itself once no link names any of it."""
    old = folder.parent / target
    builds = old.parent
    if not builds.is_dir() or builds.resolve() == folder.parent.resolve():
        return
    named = set()
    for entry in folder.parent.iterdir():
        other = _link_target(entry) if entry != folder else None
        if other is not None and (folder.parent / other).parent.resolve() == builds.resolve():
            named.add(Path(other).name)
    for child in builds.iterdir():
        if child.name in named:
            continue
        leftover = _BUILD_ID.match(child.name) or child.name.startswith(_OLD_BUILD_LEFTOVERS)
        if child == old or (leftover and not named):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    with contextlib.suppress(OSError):
        builds.rmdir()  # only once empty
    fsync_dir(folder.parent)


def recover(folder: Path) -> None:
    """With the lock held: finish a build a crash interrupted after its commit point, and
    remove what killed builds left before theirs (staging folders, journal temp files)."""
    journal = read_journal(folder)
    if journal is not None:
        roll_forward(folder, journal)
    if not folder.parent.is_dir():
        return
    prefix = f".{folder.name}."
    for entry in folder.parent.iterdir():
        name = entry.name
        if name.startswith(staging_prefix(folder)) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif name.startswith(prefix) and name.endswith((".tmp", ".new")):
            entry.unlink()  # a journal never renamed into place; the symlink layout's temp link
