"""The report run: the published dataset → the static site in data/report/.

It reads what `build` published (tables, build time), the registry and the raw manifest
(for the coverage matrix), renders every page into a staging folder and publishes it the
way a build is published (publish.atomic): a reader never sees half a report, and the same
data gives the same site, byte for byte, so a no-op `make all` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from osaka_unei import store
from osaka_unei.dataset.checks import STATS_NAME
from osaka_unei.dataset.load import load
from osaka_unei.fetch.registry import REGISTRY_FIELDS
from osaka_unei.publish.outputs import DEFAULT_WAIT, publish_outputs
from osaka_unei.report import coverage_frame, render_site


def built_at(processed_dir: Path) -> dt.datetime:
    """When the published data last changed, as build_stats.json records it."""
    stats = json.loads((processed_dir / STATS_NAME).read_text(encoding="utf-8"))
    return dt.datetime.fromisoformat(stats["built_at"].replace("Z", "+00:00"))


def write_report(
    processed_dir: Path, raw_dir: Path, registry: Path, out_dir: Path, *, wait: float = DEFAULT_WAIT
) -> list[str]:
    """Render the whole site into a staging folder and publish it as out_dir, as one unit
    (like a build: out_dir is a link to builds/<id>). Returns the site's files, relative."""
    tables = load(processed_dir=processed_dir)
    assert isinstance(tables, dict)
    known = (
        pd.read_csv(registry, dtype={"page_id": str})
        if registry.is_file()
        else pd.DataFrame(columns=list(REGISTRY_FIELDS))
    )
    coverage = coverage_frame(known, store.read_manifest(raw_dir), tables["parse_report"])
    when = built_at(store.resolve_published(processed_dir))
    written: list[str] = []

    def render(staging: Path) -> None:
        paths = render_site(tables, coverage, when, staging)
        written.extend(path.relative_to(staging).as_posix() for path in paths)

    publish_outputs(out_dir, {}, render, wait=wait)
    return written
