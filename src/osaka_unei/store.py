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
from collections.abc import Iterable
from pathlib import Path

from osaka_unei.models import RawRecord

MANIFEST_NAME = "manifest.jsonl"
# Where the project keeps its data, relative to the repository root (where make runs).
DEFAULT_RAW_DIR = Path("data/raw")
DEFAULT_REGISTRY = Path("data/registry.csv")
DEFAULT_OUT_DIR = Path("data/processed")
DEFAULT_CACHE_DIR = Path("data/cache")
DEFAULT_REPORT_DIR = Path("data/report")
_SAFE_PART = re.compile(r"^[a-z0-9_-]{1,64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_relpath(ward_slug: str, page_id: str, sha256: str, ext: str) -> str:
    """Relative path of one stored version; refuses anything but plain slug/id parts."""
    for part in (ward_slug, page_id, ext):
        if not _SAFE_PART.match(part):
            raise ValueError(f"unsafe path part: {part!r}")
    return f"{ward_slug}/{page_id}-{sha256[:16]}.{ext}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_version(raw_dir: Path, ward_slug: str, page_id: str, data: bytes, ext: str) -> str:
    """Store one version's bytes (no-op if that exact version is stored); return its relpath."""
    relpath = raw_relpath(ward_slug, page_id, sha256_hex(data), ext)
    target = raw_dir / relpath
    if not target.exists():
        write_atomic(target, data)
    return relpath


def append_manifest(raw_dir: Path, records: Iterable[RawRecord]) -> None:
    """Append records as JSON lines; each line is flushed and synced before returning."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with (raw_dir / MANIFEST_NAME).open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.model_dump_json(exclude_none=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(raw_dir: Path) -> list[RawRecord]:
    """All records in file order; a damaged line raises ValueError naming its line number."""
    path = raw_dir / MANIFEST_NAME
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(RawRecord.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: bad manifest line: {exc}") from exc
    return records


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
