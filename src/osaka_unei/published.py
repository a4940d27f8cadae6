"""A published folder (data/processed, data/report) as its readers see it: one build, whole.

The folder lives at a stable path and holds real files (so that git shows, after a
rebuild, only the files whose rows changed). Its manifest (datapackage.json for the
dataset, report-inputs.json for the report) is the last file a build replaces, and names
the build and every file's sha256 in its ``build`` section::

    "build": {"id": "f7c0d8db70f13a0b", "files": {"policies.csv": "sha256:…", …}}

A build being published (``publish.atomic``) is staged in ``.<folder>.staging-<hex>/``
beside the folder, and a journal ``.<folder>.journal`` names the staging folder while the
changed files are renamed into place one by one. A reader reads the manifest and each file
it wants from the staging folder the journal names (the build being published, or one a
crash interrupted), else from the folder itself, and checks every file against the
manifest's hashes: the bytes it returns are one build's, never a mix. A file that does not
match (a publish ran between two reads) means reading again, a few times at most.

Shared by the writer (publish.atomic) and the readers (dataset.load, publish.report); it
imports nothing but the store's link reading (a checkout from before this layout holds a
symlink, or a pointer file, naming data/builds/<id>/).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from osaka_unei.errors import StoreError
from osaka_unei.store import published_target, resolve_published

BUILD_KEY = "build"
HASH_PREFIX = "sha256:"
STAGING_INFIX = ".staging-"
JOURNAL_SUFFIX = ".journal"
# Reads of a folder that a build replaced meanwhile, before giving up (a publish renames
# its files in milliseconds; the pauses between attempts add up to about a second).
ATTEMPTS = 6
_PAUSE = 0.05


class NotWhole(StoreError):
    """The folder changed under every attempt to read it, or is not one build: one line."""


def journal_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}{JOURNAL_SUFFIX}"


def staging_prefix(folder: Path) -> str:
    return f".{folder.name}{STAGING_INFIX}"


def file_hash(data: bytes) -> str:
    return HASH_PREFIX + hashlib.sha256(data).hexdigest()


def read_journal(folder: Path) -> dict[str, Any] | None:
    """The journal of the build being published into folder (or interrupted), else None."""
    try:
        journal = json.loads(journal_path(folder).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:  # written whole by a rename: an unreadable one is not ours
        raise NotWhole(f"{journal_path(folder)} is unreadable: {exc}") from None
    if not isinstance(journal, dict) or not str(journal.get("staging", "")).startswith(
        staging_prefix(folder)
    ):
        raise NotWhole(f"{journal_path(folder)} is not a publish journal")
    return journal


def sources(folder: Path) -> list[Path]:
    """Where folder's current build is read from, first match wins: the staging folder a
    journal names (its files are the newer build's), then the folder itself (through the
    link of a checkout from before stable paths)."""
    places = []
    journal = read_journal(folder)
    if journal is not None:
        staging = folder.parent / journal["staging"]
        if staging.is_dir():
            places.append(staging)
    if folder.is_dir() or published_target(folder) is not None:
        places.append(resolve_published(folder))
    return places


def _read_first(places: Iterable[Path], name: str) -> bytes:
    for place in places:
        try:
            return (place / name).read_bytes()
        except FileNotFoundError:
            continue
    raise FileNotFoundError(name)


def build_files(manifest: dict[str, Any]) -> dict[str, str] | None:
    """name → "sha256:…" of every file of the build the manifest describes (None for a
    folder published before manifests carried hashes)."""
    build = manifest.get(BUILD_KEY)
    if not isinstance(build, dict) or not isinstance(build.get("files"), dict):
        return None
    return {str(name): str(digest) for name, digest in build["files"].items()}


def build_id(manifest: dict[str, Any]) -> str | None:
    build = manifest.get(BUILD_KEY)
    return str(build["id"]) if isinstance(build, dict) and "id" in build else None


class _Changed(Exception):
    pass


def read_build(
    folder: Path,
    manifest_name: str,
    wanted: Callable[[dict[str, Any]], Iterable[str]] = lambda manifest: (),
    *,
    attempts: int = ATTEMPTS,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest of folder's build and the bytes of the files `wanted(manifest)` names,
    all of one build (checked against the manifest's hashes).

    FileNotFoundError when there is no build (no manifest); NotWhole when the folder
    changed under every attempt, or holds a file that is not its manifest's."""
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(_PAUSE * attempt)
        try:
            places = sources(folder)
            try:
                manifest = json.loads(_read_first(places, manifest_name))
            except FileNotFoundError:
                if attempt + 1 < attempts and read_journal(folder) is not None:
                    continue
                raise FileNotFoundError(str(folder / manifest_name)) from None
            hashes = build_files(manifest)
            files = {}
            for name in wanted(manifest):
                try:
                    data = _read_first(places, name)
                except FileNotFoundError:
                    raise _Changed(f"{folder / name} is missing") from None
                if hashes is not None and hashes.get(name) != file_hash(data):
                    raise _Changed(f"{folder / name} is not the file {manifest_name} describes")
                files[name] = data
            return manifest, files
        except (_Changed, json.JSONDecodeError) as exc:
            problem = str(exc)
    raise NotWhole(
        f"{folder} changed while it was read, {attempts} times ({problem}): builds were "
        "published there meanwhile (try again), or a file was edited by hand "
        "(`osaka-unei build` puts it back)"
    )


def published_build_id(folder: Path, manifest_name: str) -> str:
    """The id of folder's build: its manifest's, else (a checkout from before stable paths)
    the name of the build folder its link names; '' when there is none."""
    try:
        manifest, _ = read_build(folder, manifest_name)
    except FileNotFoundError:
        return ""
    found = build_id(manifest)
    if found is not None:
        return found
    target = published_target(folder)
    return Path(target).name if target is not None else ""
