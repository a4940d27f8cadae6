"""A build run: raw store → the published dataset: tidy tables in Parquet and CSV, checked and described.

`run_build` reads the manifest, parses every stored version of each page (through a cache
keyed by content hash and parser source), keeps the latest policy per ward and fiscal year,
flattens the policies into tables, checks them, derives the analysis tables (lineage,
themes, versions, changes) and only then publishes `data/processed/`.
Every raw file gets one row in `parse_report`, so nothing in the store is silently skipped:
a manifest line that is no record, or that names a file outside the store, is an error row.
Outputs are byte-for-byte deterministic and published as one unit (`publish.atomic`): a
second build on unchanged input rewrites nothing. One build at a time per output folder.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei import store
from osaka_unei.analysis.versions import VersionInput
from osaka_unei.dataset.checks import (
    check_derived,
    check_shrink,
    check_tables,
    previous_counts,
    row_counts,
)
from osaka_unei.dataset.flatten import Source, as_utc, flatten, make_frame, make_tables, policy_id
from osaka_unei.dataset.load import previous_table
from osaka_unei.dataset.tables import PARSE_REPORT
from osaka_unei.fetch.urls import record_problem
from osaka_unei.models import (
    RawRecord,
    WardPolicy,
)
from osaka_unei.parse import PageError, parse_page
from osaka_unei.publish import atomic
from osaka_unei.publish.cache import ParseCache
from osaka_unei.publish.catalog import DERIVED_TABLES, PUBLISHED_TABLES
from osaka_unei.publish.derive import DATA_DIR, derive_tables
from osaka_unei.publish.outputs import (
    DEFAULT_WAIT,
    publish_outputs,
    render_outputs,
    write_database_into,
)
from osaka_unei.store import DEFAULT_CACHE_DIR, DEFAULT_OUT_DIR, DEFAULT_RAW_DIR
from osaka_unei.wards import SLUG_WARDS

Row = dict[str, Any]

# (file, url, http_charset) → policy; the default is parse.parse_page.
ParseFn = Callable[[Path, str | None, str | None], WardPolicy]
# (staging folder, checked tables) → adds files or folders to the build before it is
# published (a SQLite database, a report): published with the tables as one unit.
ExtraOutputs = Callable[[Path, Mapping[str, pd.DataFrame]], None]


@dataclass(slots=True)
class BuildResult:
    tables: dict[str, pd.DataFrame]
    parsed: int = 0
    cached: int = 0
    written: list[str] = field(default_factory=list)
    build_id: str = ""

    def count(self, status: str) -> int:
        return int((self.tables["parse_report"]["status"] == status).sum())

    def summary(self, out_dir: Path) -> str:
        return (
            f"build: {self.parsed} pages parsed, {self.cached} from cache, "
            f"{self.count('warning')} warnings, {self.count('error')} errors, "
            f"{self.count('superseded')} superseded; {len(PUBLISHED_TABLES)} tables in "
            f"{out_dir}, build {self.build_id} ({len(self.written)} files changed)"
        )


@dataclass(slots=True)
class _Parsed:
    path: str
    record: RawRecord
    policy: WardPolicy | None
    messages: list[str]


def _default_parse(path: Path, url: str | None, charset: str | None) -> WardPolicy:
    return parse_page(path, url=url, http_charset=charset)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _raw_files(raw_dir: Path) -> list[str]:
    """Every stored file but the manifest and write_atomic's temp files."""
    if not raw_dir.is_dir():
        return []
    manifest = raw_dir / store.MANIFEST_NAME
    return sorted(
        path.relative_to(raw_dir).as_posix()
        for path in raw_dir.rglob("*")
        if path.is_file() and path != manifest and not store.is_temp_file(path)
    )


def _known_slug(slug: str | None) -> str | None:
    return slug if slug in SLUG_WARDS else None


def _report_row(
    path: str, record: RawRecord | None, policy: WardPolicy | None, status: str, messages: list[str]
) -> Row:
    return {
        "path": path,
        "url": record.url if record else None,
        "ward_slug": policy.ward_slug
        if policy
        else _known_slug(record.ward_slug if record and record.ward_slug else path.split("/")[0]),
        "fiscal_year": policy.fiscal_year if policy else (record.fiscal_year if record else None),
        "status": status,
        "messages": " | ".join(messages) if messages else None,
    }


def _preference(item: _Parsed) -> tuple[Any, ...]:
    """Final before draft, then the most recent page date, then the latest fetch."""
    policy = item.policy
    assert policy is not None
    return (
        not policy.draft,
        policy.published or dt.date.min,
        as_utc(item.record.fetched_at),
        item.record.url,
    )


def run_build(
    raw_dir: Path = DEFAULT_RAW_DIR,
    out_dir: Path = DEFAULT_OUT_DIR,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    force: bool = False,
    allow_shrink: bool = False,
    parse: ParseFn | None = None,
    data_dir: Path = DATA_DIR,
    wait: float = DEFAULT_WAIT,
    extra_outputs: ExtraOutputs | None = None,
) -> BuildResult:
    """Parse every stored version, keep the latest of each page, check, derive the analysis
    tables and publish out_dir. `data_dir` holds the curated overrides files.

    Holds out_dir's build lock throughout (atomic.Busy after `wait` seconds). Raises
    CheckError when a check fails; then out_dir is left as it was. `extra_outputs` may add
    files to the build's staging folder; they are published with the tables, as one unit.
    """
    with atomic.lock(atomic.lock_path(out_dir), wait):
        atomic.recover(out_dir)  # a build killed mid-publish is finished before it is read
        return _run_build(
            raw_dir, out_dir, cache_dir, force, allow_shrink, parse, data_dir, extra_outputs
        )


def _run_build(
    raw_dir: Path,
    out_dir: Path,
    cache_dir: Path,
    force: bool,
    allow_shrink: bool,
    parse: ParseFn | None,
    data_dir: Path,
    extra_outputs: ExtraOutputs | None,
) -> BuildResult:
    parse = parse or _default_parse
    if raw_dir.is_dir():
        store.remove_stale_temp_files(raw_dir, time.time())
    # A line whose address is not a city page (a `javascript:` url), or whose year is out of
    # range, is an error row: its url is never data, nor a link.
    records, problems = store.load_manifest(raw_dir, check=record_problem)
    # A path that leaves the raw store is never read, and never supersedes a stored page.
    outside = {r.path for r in records if r.path and store.inside(raw_dir, r.path) is None}
    report: list[Row] = [
        _report_row(
            f"{store.MANIFEST_NAME}:{problem.line}", None, None, "error", [problem.message()]
        )
        for problem in problems
    ]
    for record in store.stored_versions(r for r in records if r.path in outside):
        assert record.path is not None
        note = "path outside the raw store: not read"
        report.append(_report_row(record.path, record, None, "error", [note]))
    records = [record for record in records if record.path not in outside]
    first_seen = {record.path: record for record in store.stored_versions(records)}
    latest = store.latest_versions(records)
    latest_url_of = {record.path: url for url, record in latest.items()}
    cache = ParseCache(cache_dir, force)
    result = BuildResult(tables={})
    candidates: list[_Parsed] = []

    stored: list[_Parsed] = []  # every stored version, parsed: the versions table
    for path, record in first_seen.items():
        assert path is not None
        url = latest_url_of.get(path)
        # A version's first record says when it was first fetched; the latest says where
        # the page stands now.
        item = _parse_one(raw_dir, path, latest[url] if url else record, cache, parse, result)
        stored.append(item)
        if url is None:
            note = f"older version of {record.url}; latest is {latest[record.url].path}"
            report.append(_report_row(path, record, None, "superseded", [note]))
        elif item.policy is None:
            report.append(_report_row(path, record, None, "error", item.messages))
        else:
            candidates.append(item)

    raw_files = _raw_files(raw_dir)
    for path in sorted(set(raw_files) - set(first_seen) - outside):
        report.append(_report_row(path, None, None, "error", ["not in manifest"]))

    by_policy: dict[str, list[_Parsed]] = {}
    for item in candidates:
        assert item.policy is not None
        by_policy.setdefault(policy_id(item.policy.ward_slug, item.policy.fiscal_year), []).append(
            item
        )
    flattened = []
    for pid, items in sorted(by_policy.items()):
        kept, *others = sorted(items, key=_preference, reverse=True)
        assert kept.policy is not None
        record = first_seen[kept.path]
        flattened.append(
            flatten(
                kept.policy,
                Source(
                    url=kept.record.url,
                    source_kind=record.source_kind,
                    sha256=record.sha256 or kept.policy.source_sha256,
                    fetched_at=record.fetched_at,
                ),
            )
        )
        status = "warning" if kept.messages else "ok"
        report.append(_report_row(kept.path, kept.record, kept.policy, status, kept.messages))
        for other in others:
            note = f"superseded by {pid} from {kept.record.url}"
            report.append(
                _report_row(
                    other.path, other.record, other.policy, "superseded", [note, *other.messages]
                )
            )

    tables = make_tables(flattened, report)
    check_tables(tables, raw_files)
    if not allow_shrink:
        check_shrink(previous_counts(store.resolve_published(out_dir)), row_counts(tables))
    held_paths = {row["path"] for row in report if row["status"] in ("ok", "warning")}
    versions = [
        VersionInput(
            first_seen[item.path],
            item.policy,
            item.path in held_paths,
            tuple(item.messages[len(item.policy.warnings) :] if item.policy else item.messages),
        )
        for item in stored
    ]
    derived = derive_tables(tables, versions, previous_table(out_dir, "lineage"), data_dir)
    # The parsed policies are all in the tables now: let them go before the files are
    # rendered (at 10,000 pages they are half the build's memory).
    for held in (stored, candidates, versions, flattened, by_policy):
        held.clear()
    if derived.problems:
        # a curated data file's unusable row: an error row, named by the file
        report += [_report_row(path, None, None, "error", [msg]) for path, msg in derived.problems]
        tables["parse_report"] = make_frame(PARSE_REPORT, report)
    tables |= derived.tables
    check_derived(tables, DERIVED_TABLES)
    result.tables = tables

    def write(staging: Path) -> None:
        # The files are rendered here, and their bytes let go before the database is built.
        atomic.write_files(staging, render_outputs(tables, out_dir, dt.datetime.now(dt.UTC)))
        write_database_into(staging, tables)
        if extra_outputs is not None:
            extra_outputs(staging, tables)

    published = publish_outputs(out_dir, {}, write)
    result.written = sorted([*published.changed, *published.removed])
    result.build_id = published.build_id
    return result


def _parse_one(
    raw_dir: Path,
    path: str,
    record: RawRecord,
    cache: ParseCache,
    parse: ParseFn,
    result: BuildResult,
) -> _Parsed:
    """One stored version → its policy (from cache or parser) or error messages."""
    file = raw_dir / path
    if not file.is_file():
        return _Parsed(path, record, None, ["missing file"])
    if file.stat().st_size > store.MAX_PAGE_BYTES:  # never read: no page is that large
        note = f"page refused: larger than {store.MAX_PAGE_BYTES:,} bytes"
        return _Parsed(path, record, None, [note])
    sha256 = store.sha256_hex(file.read_bytes())
    if record.sha256 and record.sha256 != sha256:
        return _Parsed(path, record, None, [f"file sha256 {sha256[:16]} differs from the manifest"])
    cached = cache.get(sha256, record.url)
    if cached is not None:
        result.cached += 1
    else:
        result.parsed += 1
        try:
            cached = parse(file, record.url, record.charset)
        except Exception as exc:
            # parse_page raises only PageError; anything else is a parser bug: reported, not cached.
            if not isinstance(exc, PageError):
                return _Parsed(
                    path, record, None, [f"parser failed: {type(exc).__name__}: {_one_line(exc)}"]
                )
            cached = _one_line(exc)
        cache.put(sha256, cached)
    if isinstance(cached, str):
        return _Parsed(path, record, None, [cached])
    messages = list(cached.warnings)
    stored_slug = record.ward_slug or path.split("/")[0]
    if stored_slug != cached.ward_slug:
        messages.append(f"page names ward {cached.ward_slug} but is stored under {stored_slug}")
    return _Parsed(path, record, cached, messages)
