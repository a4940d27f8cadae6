"""Everything a build publishes, as file name → bytes, and how it is written."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei.dataset.checks import STATS_NAME, row_counts
from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME, datapackage
from osaka_unei.dataset.files import csv_bytes, parquet_bytes
from osaka_unei.dataset.flatten import as_utc
from osaka_unei.db.datasette import DATABASE_FILE, DATASETTE_METADATA, datasette_metadata
from osaka_unei.db.sqlite import database_bytes
from osaka_unei.publish.catalog import PUBLISHED_TABLES


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def build_time(out_dir: Path, files: Mapping[str, bytes], now: dt.datetime) -> str:
    """When the published data last changed: `now` if any file differs from what out_dir
    holds, else the time the published build_stats.json records, so that a no-op rebuild
    rewrites nothing (and the report, which shows it, stays the same)."""
    stats = out_dir / STATS_NAME
    unchanged = all(
        (out_dir / name).is_file() and (out_dir / name).read_bytes() == data
        for name, data in files.items()
        if name != STATS_NAME
    )
    if unchanged and stats.is_file():
        try:
            return str(json.loads(stats.read_text(encoding="utf-8"))["built_at"])
        except (ValueError, KeyError, TypeError):
            pass
    return as_utc(now).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_outputs(
    tables: Mapping[str, pd.DataFrame], out_dir: Path, now: dt.datetime
) -> dict[str, bytes]:
    """File name → bytes for everything written to the output folder: every table as
    Parquet and CSV, the SQLite database with its search index, and the descriptors."""
    files: dict[str, bytes] = {}
    for spec in PUBLISHED_TABLES:
        files[f"{spec.name}.parquet"] = parquet_bytes(spec, tables[spec.name])
        files[f"{spec.name}.csv"] = csv_bytes(spec, tables[spec.name])
    files[DATABASE_FILE] = database_bytes(tables, PUBLISHED_TABLES)
    files[DATAPACKAGE_NAME] = _json_bytes(datapackage(PUBLISHED_TABLES))
    files[DATASETTE_METADATA] = _json_bytes(datasette_metadata(PUBLISHED_TABLES))
    built_at = build_time(out_dir, files, now)
    files[STATS_NAME] = _json_bytes({"built_at": built_at, "rows": row_counts(tables)})
    return files


def write_outputs(out_dir: Path, files: Mapping[str, bytes]) -> list[str]:
    """Stage changed files in a temp folder, then move them in; unchanged files keep their
    bytes and mtimes. Returns the names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = [
        name
        for name, data in files.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != data
    ]
    if not changed:
        return []
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
    try:
        for name in changed:
            (staging / name).write_bytes(files[name])
        for name in changed:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changed


# --- the build run ----------------------------------------------------------------------
