"""The raw store under data/raw/: bytes exactly as received, every distinct version kept.

Layout: ``{raw_dir}/{ward_slug}/{page_id}-{sha256[:16]}.{ext}`` plus ``manifest.jsonl``, one
RawRecord a line, appended for every fetch attempt and every capture added. File names
come from the slug, page id and content hash only (never from URL text), so a page
updated in place gets a new file and the old one stays.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from osaka_unei.errors import BadInputError, StoreError

if TYPE_CHECKING:  # the CLI reads the default paths below without loading pydantic
    from osaka_unei.models import RawRecord

MANIFEST_NAME = "manifest.jsonl"
# Where the project keeps its data, relative to the repository root (where make runs).
DEFAULT_RAW_DIR = Path("data/raw")
DEFAULT_REGISTRY = Path("data/registry.csv")
DEFAULT_OUT_DIR = Path("data/processed")
# The SQLite database's file name in the dataset folder (Datasette names it osaka_unei).
DATABASE_FILE = "osaka_unei.sqlite"
DEFAULT_CACHE_DIR = Path("data/cache")
DEFAULT_REPORT_DIR = Path("data/report")
_SAFE_PART = re.compile(r"^[a-z0-9_-]{1,64}$")
# The largest page kept: the fetcher refuses a body past it, add-capture and parse a file
# past it (no ward page is near it: the five real ones are under 15 KB).
MAX_PAGE_BYTES = 10 * 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_relpath(ward_slug: str, page_id: str, sha256: str, ext: str) -> str:
    """Relative path of one stored version; refuses anything but plain slug/id parts."""
    for part in (ward_slug, page_id, ext):
        if not _SAFE_PART.match(part):
            raise BadInputError(f"unsafe path part: {part!r}")
    return f"{ward_slug}/{page_id}-{sha256[:16]}.{ext}"


def read_bounded(path: Path, limit: int = MAX_PAGE_BYTES) -> bytes | None:
    """The bytes of `path`, or None when it holds more than `limit` (read no further:
    /dev/zero costs `limit` bytes, not all memory). OSError as open() raises it."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def write_atomic(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write via a temp file in the same folder and rename: never a half-written file.
    `sync=False` skips the fsync, for files a crash may lose (a cache entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# write_atomic's temp files: `.{name}.{random}.tmp`. One left by a killed write is no page.
_TEMP_NAME = re.compile(r"^\..+\.tmp$")
STALE_TEMP_SECONDS = 3600.0


def is_temp_file(path: Path) -> bool:
    return is_temp_name(path.name)


def is_temp_name(name: str) -> bool:
    return _TEMP_NAME.match(name) is not None


def remove_stale_temp_files(folder: Path, now: float, age: float = STALE_TEMP_SECONDS) -> None:
    """Remove write_atomic temp files under folder older than `age` seconds: a write takes
    well under a second, so an older one was left by a killed process (a younger one may
    be a running fetch's)."""
    for path in folder.rglob(".*.tmp"):
        if path.is_file() and is_temp_file(path) and now - path.stat().st_mtime > age:
            path.unlink(missing_ok=True)


def _relative_name(relpath: str) -> bool:
    """Not empty, not absolute, no backslash: a name inside a folder, as far as its text goes."""
    return bool(relpath) and not os.path.isabs(relpath) and "\\" not in relpath


def inside(root: Path, relpath: str) -> Path | None:
    """root/relpath if it names a place inside root (no absolute path, no '..' out, no
    symlink out), else None: a manifest is data, and data must not pick what is read."""
    if not _relative_name(relpath):
        return None
    path = root / relpath
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return path


def outside_paths(root: Path, relpaths: Iterable[str]) -> set[str]:
    """The relpaths `inside` refuses, each folder resolved once (a manifest names ten
    thousand files in a few dozen folders; os.path, not pathlib, for the same reason); a
    name that is itself a symlink is resolved whole."""
    base = os.path.realpath(root)
    top = os.fspath(root)
    folders: dict[str, str] = {}
    refused = set()
    for relpath in set(relpaths):
        if not _relative_name(relpath):
            refused.add(relpath)
            continue
        path = os.path.join(top, relpath)
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or os.path.islink(path):
            if inside(root, relpath) is None:
                refused.add(relpath)
            continue
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        resolved = os.path.join(folders[folder], name)
        if not resolved.startswith(base.rstrip(os.sep) + os.sep):
            refused.add(relpath)
    return refused


# --- the published folder (data/processed): a folder, a symlink, or a pointer file --------

_POINTER = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


def published_target(link: Path) -> str | None:
    """What a published link names, relative to its folder: a symlink's target, or the text
    of a pointer file (what git writes for a symlink where core.symlinks is false); None for
    a real folder or nothing."""
    if link.is_symlink():
        return os.readlink(link)
    if not link.is_file():
        return None
    text = link.read_bytes()[:1024].decode("utf-8", errors="replace").strip()
    if not _POINTER.match(text) or ".." in text.split("/"):
        raise StoreError(f"{link} is neither a folder nor a pointer to one")
    return text


def resolve_published(link: Path) -> Path:
    """The folder a published link stands for now (itself if it is a real folder)."""
    target = published_target(link)
    return link if target is None else (link.parent / target).resolve()


def store_version(raw_dir: Path, ward_slug: str, page_id: str, data: bytes, ext: str) -> str:
    """Store one version's bytes (no-op if that exact version is stored); return its relpath."""
    relpath = raw_relpath(ward_slug, page_id, sha256_hex(data), ext)
    target = raw_dir / relpath
    if not target.exists():
        write_atomic(target, data)
    return relpath


def append_manifest(raw_dir: Path, records: Iterable[RawRecord]) -> None:
    """Append records as JSON lines; each line is flushed and synced before returning.

    A line cut short by a crash is ended first, so the next record never joins it."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with (raw_dir / MANIFEST_NAME).open("a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        for record in records:
            handle.write((record.model_dump_json(exclude_none=False) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True, slots=True)
class ManifestProblem:
    """A manifest line that is not a record: reported, and the other lines go on."""

    line: int
    reason: str

    def message(self) -> str:
        return f"{MANIFEST_NAME} line {self.line}: {self.reason}"


class Manifest(NamedTuple):
    records: list[RawRecord]
    problems: list[ManifestProblem]


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic: the first error, on one line
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "line"
        return f"{where}: {first.get('msg', 'invalid')}"
    return " ".join(str(exc).split())[:200]


def load_manifest(
    raw_dir: Path, check: Callable[[RawRecord], str | None] | None = None
) -> Manifest:
    """All records in file order, and the lines that are not records (line number, reason).
    `check` may refuse a record (its reason, or None): then it is a problem line too."""
    from osaka_unei.models import RawRecord

    path = raw_dir / MANIFEST_NAME
    if not path.exists():
        return Manifest([], [])
    records, problems = [], []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = RawRecord.model_validate_json(raw)
            except ValueError as exc:
                problems.append(ManifestProblem(number, _reason(exc)))
                continue
            reason = check(record) if check is not None else None
            if reason is None:
                records.append(record)
            else:
                problems.append(ManifestProblem(number, reason))
    return Manifest(records, problems)


def read_manifest(raw_dir: Path) -> list[RawRecord]:
    """All records in file order; a damaged line is skipped (load_manifest reports it)."""
    return load_manifest(raw_dir).records


def stored_versions(records: Iterable[RawRecord]) -> list[RawRecord]:
    """One record per stored file (the first that names it), in manifest order; a record
    of a body cut short (``incomplete``) never names a version."""
    seen: set[str] = set()
    versions = []
    for record in records:
        if record.outcome == "incomplete":
            continue
        if record.path and record.path not in seen:
            seen.add(record.path)
            versions.append(record)
    return versions


def latest_versions(records: Iterable[RawRecord]) -> dict[str, RawRecord]:
    """For each page (by url), the complete stored version seen most recently (a 304 or a
    body that matches a stored version counts as seeing that version again). A body cut
    short (``incomplete``) is skipped: the last complete version stays the latest."""
    latest: dict[str, RawRecord] = {}
    for record in records:
        if not record.path or record.outcome == "incomplete":
            continue
        current = latest.get(record.url)
        if current is None or record.fetched_at >= current.fetched_at:
            latest[record.url] = record
    return latest
