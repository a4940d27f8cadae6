"""The report run: the published dataset → the static site in data/report/.

It reads what `build` published (tables, build time), the registry and the raw manifest
(for the coverage matrix), renders every page into a staging folder and publishes it the
way a build is published (publish.atomic, at stable paths, report-inputs.json its manifest):
a reader never sees half a report, and the same data gives the same site, byte for byte, so
a no-op `make all` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from osaka_unei import store
from osaka_unei.dataset.checks import STATS_NAME
from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
from osaka_unei.dataset.load import load
from osaka_unei.fetch.registry import REGISTRY_FIELDS
from osaka_unei.publish import atomic
from osaka_unei.publish.outputs import DEFAULT_WAIT, publish_outputs
from osaka_unei.published import build_files, published_build_id, read_build


def built_at(processed_dir: Path) -> dt.datetime:
    """When the published data last changed, as build_stats.json records it."""
    stats = json.loads((processed_dir / STATS_NAME).read_text(encoding="utf-8"))
    return dt.datetime.fromisoformat(stats["built_at"].replace("Z", "+00:00"))


# The tables the site is drawn from (report.site; `themes` only says whether nodes are
# tagged; parse_report makes the coverage): the others are not read.
REPORT_TABLES = ("policies", "nodes", "themes", "theme_codebook", "changes", "parse_report")

# Beside the pages: what the site was made from, so an unchanged one is not drawn again.
INPUTS_NAME = "report-inputs.json"


def report_inputs(processed_dir: Path, raw_dir: Path, registry: Path) -> str:
    """A digest of everything the site is made from: the published build, the registry,
    the raw manifest and the report's own code and templates."""
    digest = hashlib.sha256()
    digest.update(published_build_id(processed_dir, DATAPACKAGE_NAME).encode())
    package = Path(__file__).resolve().parents[1] / "report"
    sources = [registry, raw_dir / store.MANIFEST_NAME, *sorted(package.rglob("*.*"))]
    for path in sources:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def downloads(processed_dir: Path) -> list[tuple[str, int]]:
    """The published build's files (name, size in bytes), for the report's download page:
    those its datapackage.json lists, not a user's own files beside them."""
    manifest, _ = read_build(processed_dir, DATAPACKAGE_NAME)
    names = sorted({*(build_files(manifest) or {}), DATAPACKAGE_NAME})
    return [(name, (processed_dir / name).stat().st_size) for name in names]


def _relative(processed_dir: Path, out_dir: Path) -> str:
    """The published data as the report's pages link to it: out_dir/../processed/ for the
    usual layout (data/report → data/processed), else a relative path between the two."""
    rel = os.path.relpath(processed_dir.absolute(), out_dir.absolute())
    return Path(rel).as_posix().rstrip("/") + "/"


def write_report(
    processed_dir: Path, raw_dir: Path, registry: Path, out_dir: Path, *, wait: float = DEFAULT_WAIT
) -> list[str]:
    """Render the site into a staging folder and publish it as out_dir, as one unit (like a
    build, at stable paths). Returns the site's files, relative. A site made from the same
    inputs is left as it is; otherwise only the pages whose own inputs changed are drawn
    again (report.site: a digest per page), the others keep the published report's bytes."""
    inputs = report_inputs(processed_dir, raw_dir, registry)
    try:
        current, _ = read_build(out_dir, INPUTS_NAME)
    except FileNotFoundError:
        current = {}
    published = build_files(current)
    if published is not None and current.get("inputs") == inputs:
        return sorted(published)
    # jinja2 and the report's modules load only when there is a site to draw.
    from osaka_unei.publish.catalog import PUBLISHED_TABLES
    from osaka_unei.report import Download, coverage_frame, read_digests, render_site

    tables = load(processed_dir=processed_dir, only=REPORT_TABLES)
    assert isinstance(tables, dict)
    if "nodes" not in tables:  # a build without the node model: made from all the tables
        tables = load(processed_dir=processed_dir)
        assert isinstance(tables, dict)
    known = (
        pd.read_csv(registry, dtype={"page_id": str})
        if registry.is_file()
        else pd.DataFrame(columns=list(REGISTRY_FIELDS))
    )
    coverage = coverage_frame(known, store.read_manifest(raw_dir), tables["parse_report"])
    when = built_at(processed_dir)
    written: list[str] = []
    hashes: dict[str, str] = {}  # of the files render_site writes: not read again to publish
    # the pages kept as the published report has them: not staged, carried over in place
    kept: dict[str, str] = {}
    wards: dict[str, str] = {}  # each ward's items digest (report.site), kept in the manifest
    previous_wards = current.get("wards") if published is not None else None

    def render(staging: Path) -> None:
        paths = render_site(
            tables,
            coverage,
            when,
            staging,
            downloads=[Download(name, size) for name, size in downloads(processed_dir)],
            build_id=published_build_id(processed_dir, DATAPACKAGE_NAME),
            specs=PUBLISHED_TABLES,
            data_href=_relative(processed_dir, out_dir),
            previous=out_dir if published is not None else None,
            previous_digests=read_digests(out_dir if published is not None else None),
            previous_hashes=published,
            hashes=hashes,
            kept=kept,
            # under the lock: each kept file is checked against the hash the published
            # manifest names (by the stat index where it holds, else read)
            intact=functools.partial(atomic.verified, out_dir),
            previous_wards=previous_wards if isinstance(previous_wards, dict) else None,
            wards=wards,
        )
        start = len(str(staging)) + 1
        written.extend(str(path)[start:] for path in paths)
        manifest = {"inputs": inputs, "wards": dict(sorted(wards.items()))}
        (staging / INPUTS_NAME).write_text(json.dumps(manifest) + "\n", "utf-8")

    publish_outputs(out_dir, {}, render, wait=wait, manifest=INPUTS_NAME, known=hashes, kept=kept)
    return written
