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

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei import store
from osaka_unei.analysis.changes import changes_table
from osaka_unei.analysis.overrides import Override
from osaka_unei.analysis.themes import codebook_frame
from osaka_unei.analysis.versions import VersionInput, versions_table
from osaka_unei.dataset.checks import (
    check_derived,
    check_shrink,
    check_tables,
    previous_counts,
    row_counts,
)
from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
from osaka_unei.dataset.flatten import (
    Source,
    as_utc,
    flatten,
    make_frame,
    make_tables,
    policy_id,
    ward_of,
)
from osaka_unei.dataset.load import previous_table
from osaka_unei.dataset.tables import PARSE_REPORT, TABLES
from osaka_unei.dataset.values import clean
from osaka_unei.errors import StoreError
from osaka_unei.fetch.urls import record_problem
from osaka_unei.models import (
    RawRecord,
    WardPolicy,
)
from osaka_unei.parse import PageError, parse_page
from osaka_unei.publish import atomic, units
from osaka_unei.publish.cache import ParseCache
from osaka_unei.publish.catalog import DERIVED_TABLES, PUBLISHED_TABLES
from osaka_unei.publish.derive import (
    DATA_DIR,
    PAGE_TABLES,
    UNIT_TABLES,
    Curated,
    UnitDerived,
    derive_unit,
    override_rows,
    read_curated,
)
from osaka_unei.publish.outputs import (
    DEFAULT_WAIT,
    publish_outputs,
    render_outputs,
    write_database_into,
)
from osaka_unei.published import build_files, read_build
from osaka_unei.published import build_id as published_build_id_of
from osaka_unei.store import DEFAULT_CACHE_DIR, DEFAULT_OUT_DIR, DEFAULT_RAW_DIR
from osaka_unei.wards import SLUG_WARDS

Row = dict[str, Any]

# (file, url, http_charset) → policy; the default is parse.parse_page.
ParseFn = Callable[[Path, str | None, str | None], WardPolicy]
# (staging folder, checked tables) → adds files or folders to the build before it is
# published (a SQLite database, a report): published with the tables as one unit.
ExtraOutputs = Callable[[Path, Mapping[str, pd.DataFrame]], None]


# What a build reads of the previous lineage table: the ids it keeps (lineage.assign_ids).
PREVIOUS_LINEAGE_COLUMNS = (
    "policy_id",
    "level",
    "issue_position",
    "strategy_position",
    "position",
    "lineage_id",
)
CORE_NAMES = (*(spec.name for spec in TABLES), *PAGE_TABLES)  # a unit's, from its pages
MEMO_TABLES = (*CORE_NAMES, *UNIT_TABLES)  # every table but the codebook, by unit


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
    """Every stored file but the manifest and write_atomic's temp files (symlinked folders
    are not entered, as Path.rglob does not; os.walk: ten thousand files)."""
    if not raw_dir.is_dir():
        return []
    top = os.fspath(raw_dir)
    found = []
    for folder, _, names in os.walk(top):
        relative = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        for name in names:
            if store.is_temp_name(name) or not os.path.isfile(os.path.join(folder, name)):
                continue
            if prefix or name != store.MANIFEST_NAME:
                found.append(prefix + name)
    return sorted(found)


def _known_slug(slug: str | None) -> str | None:
    return slug if slug in SLUG_WARDS else None


def _report_row(
    path: str, record: RawRecord | None, policy: WardPolicy | None, status: str, messages: list[str]
) -> Row:
    return {
        "path": path,
        "url": record.url if record else None,
        "ward_slug": policy.ward_slug if policy else _known_slug(_stored_slug(record, path)),
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


def _stored_slug(record: RawRecord | None, path: str) -> str:
    """The ward a stored file belongs to: its record's, else its folder's."""
    return (record.ward_slug if record else None) or path.split("/")[0]


@dataclass(slots=True)
class _Version:
    """A stored version as the build reads it: its first record (when it was first fetched)
    and the record it is parsed with (the page's latest, if it is the latest version)."""

    path: str
    first: RawRecord
    record: RawRecord
    latest: bool
    latest_path: str  # the page's latest version's (this one's, if latest)


def _units(
    first_seen: Mapping[str, RawRecord], latest: Mapping[str, RawRecord]
) -> dict[str, list[_Version]]:
    """Stored versions by unit: the ward folder of their page's latest version (so every
    version of a page is in one unit), in manifest order."""
    latest_url_of = {record.path: url for url, record in latest.items()}
    units: dict[str, list[_Version]] = {}
    for path, first in first_seen.items():
        url = latest_url_of.get(path)
        now = latest.get(first.url, first)
        assert now.path is not None
        record = latest[url] if url else first
        version = _Version(path, first, record, url is not None, now.path)
        units.setdefault(_stored_slug(now, now.path), []).append(version)
    return units


def _inputs_key(raw_dir: Path, unit: str, versions: list[_Version]) -> str:
    """What a unit's core tables are a function of: the code, and each version's records and
    file state (a changed file is read again, and its sha256 checked)."""
    top = os.fspath(raw_dir)
    return units.digest(
        [
            units.code_fingerprint(),
            unit,
            *(
                (
                    v.path,
                    units.file_state(os.path.join(top, v.path)),
                    v.first.model_dump_json(),
                    v.record.model_dump_json(),
                    v.latest,
                )
                for v in versions
            ),
        ]
    )


def _previous_keys(previous: pd.DataFrame | None) -> dict[str, str]:
    """Ward → the previous lineage ids its lineage keeps (lineage.assign_ids), as a key."""
    rows: dict[str, list[tuple[str, ...]]] = {}
    if previous is not None and not previous.empty:
        columns = ("policy_id", "level", "issue_position", "strategy_position", "position")
        values = zip(*(previous[c].tolist() for c in (*columns, "lineage_id")), strict=True)
        for row in values:
            rows.setdefault(ward_of(row[0]), []).append(tuple(str(clean(v)) for v in row))
    return {ward: units.digest(sorted(ward_rows)) for ward, ward_rows in rows.items()}


def _derived_key(inputs: str, overrides: list[Override], themes: pd.DataFrame | None) -> str:
    rows = (
        [] if themes is None else themes.astype(object).where(themes.notna(), None).values.tolist()
    )
    return units.digest([inputs, override_rows(overrides), rows])


@dataclass(slots=True)
class _Store:
    """The raw store as a build reads it: its stored versions by unit, and the report rows of
    no unit (the manifest's bad lines, paths outside the store, files it does not name)."""

    by_unit: dict[str, list[_Version]]
    report: list[Row]
    raw_files: list[str]


def _read_store(raw_dir: Path) -> _Store:
    if raw_dir.is_dir():
        store.remove_stale_temp_files(raw_dir, time.time())
    # A line whose address is not a city page (a `javascript:` url), or whose year is out of
    # range, is an error row: its url is never data, nor a link.
    records, problems = store.load_manifest(raw_dir, check=record_problem)
    # A path that leaves the raw store is never read, and never supersedes a stored page.
    outside = store.outside_paths(raw_dir, (r.path for r in records if r.path))
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
    first_seen = {str(r.path): r for r in store.stored_versions(records)}
    raw_files = _raw_files(raw_dir)
    for path in sorted(set(raw_files) - set(first_seen) - outside):
        report.append(_report_row(path, None, None, "error", ["not in manifest"]))
    return _Store(_units(first_seen, store.latest_versions(records)), report, raw_files)


@dataclass(slots=True)
class _Plan:
    """The units of a build, what each is a function of, and what the memo holds of them."""

    order: list[str]  # the units (ward slugs), in table order
    inputs: dict[str, str]  # unit → the key of its pages (_inputs_key)
    stale: list[str]  # units whose pages changed since the memo: parsed and derived again
    memo: units.Memo


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
    stored = _read_store(raw_dir)
    order = sorted(stored.by_unit)
    memo = units.Memo() if force else units.load(cache_dir / units.MEMO_DIR, MEMO_TABLES)
    inputs = {unit: _inputs_key(raw_dir, unit, stored.by_unit[unit]) for unit in order}
    stale = [u for u in order if (k := memo.keys.get(u)) is None or k.inputs != inputs[u]]
    plan = _Plan(order, inputs, stale, memo)
    result = BuildResult(tables={})
    result.cached += sum(len(stored.by_unit[u]) for u in order if u not in stale)
    cache = ParseCache(cache_dir, force)
    with_units = _core_tables(raw_dir, stored, plan, cache, parse or _default_parse, result)
    tables = {name: frame.drop(columns=units.UNIT) for name, frame in with_units.items()}
    tables["parse_report"] = _with_rows(tables["parse_report"], stored.report)
    check_tables(tables, stored.raw_files)
    if not allow_shrink:
        check_shrink(previous_counts(store.resolve_published(out_dir)), row_counts(tables))

    curated = read_curated(tables, data_dir)
    previous = previous_table(out_dir, "lineage", PREVIOUS_LINEAGE_COLUMNS)
    keys, redo, messages = _derived_tables(with_units, plan, curated, previous)
    tables |= {name: with_units[name].drop(columns=units.UNIT) for name in UNIT_TABLES}
    tables["theme_codebook"] = codebook_frame()
    curated_rows = [
        _report_row(path, None, None, "error", [message])  # a curated file's unusable rows
        for path, message in curated.problems(messages)
    ]
    tables["parse_report"] = _with_rows(tables["parse_report"], curated_rows)
    tables = {spec.name: spec.conform(tables[spec.name]) for spec in PUBLISHED_TABLES}
    check_derived(tables, DERIVED_TABLES)
    result.tables = tables

    # What the files are a function of: when out_dir holds, untouched, the build made from
    # the same, there is nothing to write (a no-op rebuild renders nothing).
    whole = units.digest(
        [
            units.code_fingerprint(),
            [(unit, keys[unit].inputs, keys[unit].derived) for unit in order],
            stored.report,
            curated_rows,
        ]
    )
    where = str(out_dir.resolve())
    done = memo.published.get(where)
    if (
        extra_outputs is None
        and done is not None
        and done[0] == whole
        and _intact(out_dir, done[1])
    ):
        result.build_id = done[1]
    else:

        def write(staging: Path) -> None:
            # The files are rendered here, and their bytes let go before the database is built.
            now = dt.datetime.now(dt.UTC)
            atomic.write_files(staging, render_outputs(tables, out_dir, now))
            write_database_into(staging, tables)
            if extra_outputs is not None:
                extra_outputs(staging, tables)

        published = publish_outputs(out_dir, {}, write)
        result.written = sorted([*published.changed, *published.removed])
        result.build_id = published.build_id
    if stale or redo or set(memo.keys) != set(order) or done != (whole, result.build_id):
        others = {folder: done for folder, done in memo.published.items() if folder != where}
        # A build with extra outputs is not what the key says: the next build writes again.
        built = others if extra_outputs else others | {where: (whole, result.build_id)}
        # The memo only saves time: one that cannot be written (a full disk, a read-only
        # cache) costs the next build its time, never this build its result.
        with contextlib.suppress(OSError):
            units.save(cache_dir / units.MEMO_DIR, units.Memo(keys, with_units, built))
    return result


def _core_tables(
    raw_dir: Path,
    stored: _Store,
    plan: _Plan,
    cache: ParseCache,
    parse: ParseFn,
    result: BuildResult,
) -> dict[str, pd.DataFrame]:
    """The core tables (and versions, changes) with their UNIT column: the stale units' made
    again (all at once: one call per step, as a first build does), the others' the memo's."""
    made = _core(raw_dir, {u: stored.by_unit[u] for u in plan.stale}, cache, parse, result)
    unit_of_path = {v.path: unit for unit in plan.stale for v in stored.by_unit[unit]}
    return {
        name: plan.memo.merge(
            name, units.tag(made[name], name, unit_of_path), plan.order, plan.stale
        )
        for name in CORE_NAMES
    }


def _derived_tables(
    with_units: dict[str, pd.DataFrame],
    plan: _Plan,
    curated: Curated,
    previous: pd.DataFrame | None,
) -> tuple[dict[str, units.UnitKeys], list[str], list[str]]:
    """Adds the derived tables (UNIT_TABLES) to with_units: made again for the units whose
    pages, curated rows or previous lineage ids changed, the memo's for the others. Returns
    every unit's keys, the units made again and the curated files' messages."""
    keys: dict[str, units.UnitKeys] = {}
    bases: dict[str, str] = {}  # each unit's derived key, but for its previous lineage ids
    redo: list[str] = []
    no_ids = units.digest([])
    given = _previous_keys(previous)
    for unit in plan.order:
        lineage_overrides, theme_overrides = curated.for_wards({unit})
        bases[unit] = _derived_key(plan.inputs[unit], lineage_overrides, theme_overrides)
        key = units.digest([bases[unit], given.get(unit, no_ids)])
        known = plan.memo.keys.get(unit)
        if unit not in plan.stale and known is not None and key in known.derived:
            keys[unit] = known
        else:
            keys[unit] = units.UnitKeys(plan.inputs[unit], (key,))
            redo.append(unit)
    if not redo and all(name in plan.memo.tables for name in UNIT_TABLES):
        for name in UNIT_TABLES:  # every unit as it was
            with_units[name] = plan.memo.merge(name, None, plan.order, redo)
        messages = [message for unit in plan.order for message in keys[unit].errors]
        return keys, redo, messages + curated.unmatched(plan.order)
    derived = _derive(with_units, previous, curated, redo)
    messages = []
    made = _previous_keys(derived.tables["lineage"])
    for unit in plan.order:
        if unit in redo:
            errors = tuple(e.text for e in derived.errors if e.ward_slug == unit)
            # The next build reads this lineage back as its previous: a key for that too.
            again = units.digest([bases[unit], made.get(unit, no_ids)])
            keys[unit] = units.UnitKeys(plan.inputs[unit], (*keys[unit].derived, again), errors)
        messages += keys[unit].errors
    messages += curated.unmatched(plan.order)
    for name in UNIT_TABLES:
        tagged = units.tag(derived.tables[name], name)
        with_units[name] = plan.memo.merge(name, tagged, plan.order, redo)
    return keys, redo, messages


def _intact(out_dir: Path, build_id: str) -> bool:
    """out_dir holds build `build_id`, every file as its datapackage.json says."""
    try:
        manifest, _ = read_build(
            out_dir, DATAPACKAGE_NAME, lambda m: build_files(m) or (), attempts=1
        )
    except (FileNotFoundError, OSError, ValueError, StoreError):
        return False
    return published_build_id_of(manifest) == build_id and build_files(manifest) is not None


def _derive(
    core: Mapping[str, pd.DataFrame],
    previous: pd.DataFrame | None,
    curated: Curated,
    redo: list[str],
) -> UnitDerived:
    """derive_unit for these units at once: their core tables, previous lineage ids and
    curated rows."""
    wanted = set(redo)
    own = {
        name: frame[frame[units.UNIT].isin(wanted)].drop(columns=units.UNIT).reset_index(drop=True)
        for name, frame in core.items()
    }
    if previous is not None:
        previous = previous[previous["policy_id"].map(ward_of).isin(wanted)]  # as its keys
    lineage_overrides, theme_overrides = curated.for_wards(wanted)
    return derive_unit(own, previous, lineage_overrides, theme_overrides)


def _with_rows(frame: pd.DataFrame, rows: list[Row]) -> pd.DataFrame:
    """parse_report plus rows of its own (the manifest's, a curated file's), in path order."""
    if not rows:
        return frame
    both = pd.concat([frame, make_frame(PARSE_REPORT, rows)], ignore_index=True)
    return both.sort_values("path", kind="stable").reset_index(drop=True)


def _core(
    raw_dir: Path,
    by_unit: Mapping[str, list[_Version]],
    cache: ParseCache,
    parse: ParseFn,
    result: BuildResult,
) -> dict[str, pd.DataFrame]:
    """These units' core tables, parse report rows, versions and changes: every stored
    version parsed (or read from the cache), the latest policy of each ward and year kept."""
    report: list[Row] = []
    candidates: list[_Parsed] = []
    stored: list[_Parsed] = []  # every stored version, parsed: the versions table
    versions = [version for unit_versions in by_unit.values() for version in unit_versions]
    unit_of = {version.path: unit for unit, vs in by_unit.items() for version in vs}
    for version in versions:
        unit = unit_of[version.path]
        item = _parse_one(raw_dir, version.path, version.record, unit, cache, parse, result)
        stored.append(item)
        if not version.latest:
            note = f"older version of {version.first.url}; latest is {version.latest_path}"
            report.append(_report_row(version.path, version.first, None, "superseded", [note]))
        elif item.policy is None:
            report.append(_report_row(version.path, version.first, None, "error", item.messages))
        else:
            candidates.append(item)

    by_policy: dict[str, list[_Parsed]] = {}
    for item in candidates:
        assert item.policy is not None
        by_policy.setdefault(policy_id(item.policy.ward_slug, item.policy.fiscal_year), []).append(
            item
        )
    flattened = []
    first_of = {version.path: version.first for version in versions}
    for pid, items in sorted(by_policy.items()):
        kept, *others = sorted(items, key=_preference, reverse=True)
        assert kept.policy is not None
        record = first_of[kept.path]
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
    held_paths = {row["path"] for row in report if row["status"] in ("ok", "warning")}
    inputs = [
        VersionInput(
            first_of[item.path],
            item.policy,
            item.path in held_paths,
            tuple(item.messages[len(item.policy.warnings) :] if item.policy else item.messages),
        )
        for item in stored
    ]
    return tables | {"versions": versions_table(inputs), "changes": changes_table(inputs)}


def _parse_one(
    raw_dir: Path,
    path: str,
    record: RawRecord,
    unit: str,
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
    if cached.ward_slug != unit:
        # A ward's rows come from its own folder only (publish.units): the registry or the
        # store is wrong, and the page is not guessed into another ward's tables.
        note = f"page names ward {cached.ward_slug} but is stored under {unit}: not used"
        return _Parsed(path, record, None, [*cached.warnings, note])
    return _Parsed(path, record, cached, list(cached.warnings))
