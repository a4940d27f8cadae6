"""The report run: the published dataset → the static site in data/report/.

It reads what `build` published (tables, build time), the registry and the raw manifest
(for the coverage matrix), renders every page into a staging folder and only then puts
the folder in place, so a reader never sees half a report.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from osaka_unei import store
from osaka_unei.dataset.checks import STATS_NAME
from osaka_unei.dataset.load import load
from osaka_unei.fetch.registry import REGISTRY_FIELDS
from osaka_unei.report import coverage_frame, render_site


def built_at(processed_dir: Path) -> dt.datetime:
    """When the published data last changed, as build_stats.json records it."""
    stats = json.loads((processed_dir / STATS_NAME).read_text(encoding="utf-8"))
    return dt.datetime.fromisoformat(stats["built_at"].replace("Z", "+00:00"))


def write_report(processed_dir: Path, raw_dir: Path, registry: Path, out_dir: Path) -> list[Path]:
    """Render the whole site, then replace out_dir with it. Returns the files written."""
    tables = load(processed_dir=processed_dir)
    assert isinstance(tables, dict)
    known = (
        pd.read_csv(registry, dtype={"page_id": str})
        if registry.is_file()
        else pd.DataFrame(columns=list(REGISTRY_FIELDS))
    )
    coverage = coverage_frame(known, store.read_manifest(raw_dir), tables["parse_report"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        written = render_site(tables, coverage, built_at(processed_dir), staging)
        old = out_dir.with_name(f".{out_dir.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / path.relative_to(staging) for path in written]
