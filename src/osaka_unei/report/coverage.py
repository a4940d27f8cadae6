"""Coverage: for each ward and fiscal year, how far the pipeline got with its page(s).

One row per ward × fiscal year of the whole grid (24 wards in city order × 2013…2026,
widened to any year the inputs name), so that a gap is a row too. A cell's status is the
furthest stage any of its pages reached: parsed (ok / warning) beats error, error beats
stored (a raw file not yet built), stored beats known (in the registry only), and a
cell nothing names is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from osaka_unei.calendar import FIRST_FISCAL_YEAR, fiscal_year_problem
from osaka_unei.dataset.flatten import make_frame
from osaka_unei.dataset.tables import table_spec
from osaka_unei.models import RawRecord
from osaka_unei.wards import SLUG_WARDS, WARD_SLUGS, page_address

# The grid's years: from the site's first (calendar.FIRST_FISCAL_YEAR) to a fixed last one,
# so the same data gives the same report whatever the date (a later year widens the grid).
FIRST_YEAR, LAST_YEAR = FIRST_FISCAL_YEAR, 2026

STATUSES: tuple[str, ...] = ("missing", "known", "stored", "error", "warning", "ok")
# How far a cell got: a higher rank wins when a cell has several pages.
_RANK = {"missing": 0, "known": 1, "stored": 2, "error": 3, "warning": 4, "ok": 5}

COVERAGE = table_spec("coverage")  # its columns: dataset/columns.toml


def _year(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _url_key(url: str | None) -> tuple[str, str] | str | None:
    """Zero padding and http/https do not make two addresses of one page differ."""
    return page_address(url) or url


def coverage_frame(
    registry: pd.DataFrame,
    manifest_records: Iterable[RawRecord],
    parse_report: pd.DataFrame,
    years: tuple[int, int] = (FIRST_YEAR, LAST_YEAR),
) -> pd.DataFrame:
    """Registry (url, ward_slug, fiscal_year), raw manifest and parse report → coverage.

    A stored file's year comes from its parse report row, else its manifest record, else
    the registry entry of its address; a file whose year stays unknown has no cell.
    """
    cells: dict[tuple[str, int], dict[str, Any]] = {}

    def cell(slug: str | None, year: int | None) -> dict[str, Any] | None:
        # A year outside the site's range (a registry typo: 20182) has no cell: the grid
        # would grow a column for every year up to it.
        if slug not in SLUG_WARDS or year is None or fiscal_year_problem(year) is not None:
            return None
        return cells.setdefault(
            (slug, year),
            {"status": "missing", "known": set(), "stored": set(), "urls": [], "messages": []},
        )

    def raise_to(entry: dict[str, Any], status: str) -> None:
        if _RANK[status] > _RANK[entry["status"]]:
            entry["status"] = status

    year_of_url: dict[Any, tuple[str, int]] = {}
    slug: str | None  # a registry row's, a stored version's, a report row's
    for row in registry.itertuples(index=False):
        slug, year = str(row.ward_slug), _year(row.fiscal_year)
        entry = cell(slug, year)
        if entry is None or year is None:
            continue
        year_of_url[_url_key(row.url)] = (slug, year)
        entry["known"].add(_url_key(row.url))
        entry["urls"].append(row.url)
        raise_to(entry, "known")

    report_rows = {str(row.path): row for row in parse_report.itertuples(index=False)}
    for record in manifest_records:
        if not record.path:
            continue  # a failed or refused fetch stores nothing
        report = report_rows.get(record.path)
        slug, year = record.ward_slug, record.fiscal_year
        if report is not None and _year(report.fiscal_year) is not None:
            slug, year = report.ward_slug, _year(report.fiscal_year)
        elif year is None and _url_key(record.url) in year_of_url:
            slug, year = year_of_url[_url_key(record.url)]
        entry = cell(slug, year)
        if entry is not None:
            entry["stored"].add(record.path)
            raise_to(entry, "stored")

    for row in report_rows.values():
        slug, year = row.ward_slug, _year(row.fiscal_year)
        if year is None and _url_key(row.url) in year_of_url:
            slug, year = year_of_url[_url_key(row.url)]
        entry = cell(slug, year)
        if entry is None:
            continue
        entry["stored"].add(str(row.path))
        status = str(row.status)
        if status == "superseded":
            raise_to(entry, "stored")
            continue
        raise_to(entry, status)
        if status in ("ok", "warning"):
            entry["policy_id"] = f"{slug}-{year}"
            entry["url"] = row.url
        if isinstance(row.messages, str) and row.messages:
            entry["messages"].append(row.messages)

    named = [year for _, year in cells]
    first, last = min([years[0], *named]), max([years[1], *named])
    rows = []
    for name, slug in WARD_SLUGS.items():
        for year in range(first, last + 1):
            entry = cells.get((slug, year))
            rows.append(
                {
                    "ward_slug": slug,
                    "ward": name,
                    "fiscal_year": year,
                    "status": entry["status"] if entry else "missing",
                    "known_pages": len(entry["known"]) if entry else 0,
                    "stored_files": len(entry["stored"]) if entry else 0,
                    "policy_id": entry.get("policy_id") if entry else None,
                    "url": (entry.get("url") or next(iter(entry["urls"]), None)) if entry else None,
                    "messages": " | ".join(entry["messages"]) or None if entry else None,
                }
            )
    # The published tables' dtypes (Int64, str) and key order; pages re-sort in city order.
    return make_frame(COVERAGE, rows)
