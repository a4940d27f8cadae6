"""Everything a build publishes, as file name → bytes, and how it is written."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from osaka_unei.dataset.checks import STATS_NAME, row_counts
from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME, datapackage
from osaka_unei.dataset.files import csv_bytes, parquet_bytes
from osaka_unei.dataset.flatten import as_utc
from osaka_unei.db.datasette import DATABASE_FILE, DATASETTE_METADATA, datasette_metadata
from osaka_unei.db.sqlite import write_database
from osaka_unei.publish import atomic
from osaka_unei.publish.catalog import PUBLISHED_TABLES
from osaka_unei.store import resolve_published


def build_time(out_dir: Path, files: Mapping[str, bytes], now: dt.datetime) -> str:
    """When the published data last changed: `now` if any file differs from what out_dir
    holds, else the time the published build_stats.json records, so that a no-op rebuild
    rewrites nothing (and the report, which shows it, stays the same)."""
    published = resolve_published(out_dir)
    stats = published / STATS_NAME

    def same(name: str, data: bytes) -> bool:
        path = published / name
        if not path.is_file():
            return False
        if name == DATAPACKAGE_NAME:  # as published: with the build's id and hashes
            return atomic.unstamp_manifest(path.read_bytes()) == data
        return path.read_bytes() == data

    unchanged = all(same(name, data) for name, data in files.items() if name != STATS_NAME)
    if unchanged and stats.is_file():
        try:
            return str(json.loads(stats.read_text(encoding="utf-8"))["built_at"])
        except (ValueError, KeyError, TypeError):
            pass
    return as_utc(now).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_outputs(
    tables: Mapping[str, pd.DataFrame], out_dir: Path, now: dt.datetime
) -> dict[str, bytes]:
    """File name → bytes for the files of a build: every table as Parquet and CSV, and the
    descriptors. The SQLite database is written straight into the build (write_extras)."""
    files: dict[str, bytes] = {}
    for spec in PUBLISHED_TABLES:
        files[f"{spec.name}.parquet"] = parquet_bytes(spec, tables[spec.name])
        files[f"{spec.name}.csv"] = csv_bytes(spec, tables[spec.name])
    files[DATAPACKAGE_NAME] = atomic.json_bytes(datapackage(PUBLISHED_TABLES))
    files[DATASETTE_METADATA] = atomic.json_bytes(datasette_metadata(PUBLISHED_TABLES))
    built_at = build_time(out_dir, files, now)
    files[STATS_NAME] = atomic.json_bytes({"built_at": built_at, "rows": row_counts(tables)})
    return files


def write_database_into(staging: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """The SQLite database with its search index, written into a build's staging folder."""
    # Not fsynced here: publishing fsyncs every file of the build it renames into place.
    write_database(staging / DATABASE_FILE, tables, PUBLISHED_TABLES, durable=False)


# Adds files or folders to a build's staging folder before it is published (the SQLite
# database, a report): everything in the folder is published as one unit with the tables.
ExtraOutputs = Callable[[Path], None]

DEFAULT_WAIT = 60.0


def publish_outputs(
    out_dir: Path,
    files: Mapping[str, bytes],
    extra: ExtraOutputs | None = None,
    *,
    wait: float = DEFAULT_WAIT,
    manifest: str = DATAPACKAGE_NAME,
    known: Mapping[str, str] | None = None,
    kept: Mapping[str, str] | None = None,
) -> atomic.Published:
    """Publish files (and what `extra` adds) as out_dir's new build, at stable paths.

    Readers of out_dir (through `published.read_build`: load(), the report) see the
    previous build or this one, whole; only files whose bytes differ are replaced, and a
    build equal to the published one changes nothing (files keep their bytes, mtimes and
    inodes). `manifest` (a JSON file among the outputs, or made) is written last and names
    the build and every file's sha256. Waits up to `wait` seconds for another build in the
    same folder (Busy after that). known: hashes of files `extra` writes, which it may fill
    as it writes them (file_hash of the bytes written): those are not read again. kept:
    files `extra` did not stage because out_dir's build holds them as they are, name →
    hash, which it may fill as it checks them (atomic.verified): carried over untouched."""
    with atomic.lock(atomic.lock_path(out_dir), wait):
        atomic.recover(out_dir)  # finish (or clean up) what a killed build left
        staging = atomic.new_staging(out_dir)
        try:
            atomic.write_files(staging, files)
            if extra is not None:
                extra(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return atomic.publish_dir(staging, out_dir, manifest, known, kept)
