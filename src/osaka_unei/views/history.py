"""`osaka-unei history WARD [QUERY]`: a ward's items followed across years.

Read from the database's `nodes` table: for every node its lineage, its parent's lineage
and the amount shown (`thousand_yen`, `printed`), never recomputed.

The tree is built per year: a node's row is the path of lineage ids from its issue down
to itself, in its own year (from `parent_key`). A lineage whose parent changed between
two years therefore has one row under each parent, and every node sits under its own
parent. One column per fiscal year: the amount (`—` none on the page, `(計)` the sum of
the items below), blank where the item is not on that year's page.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

from osaka_unei.views.text import (
    AMOUNT_NOTE,
    HEADERS,
    amount,
    as_bool,
    level_ja,
    require_columns,
)
from osaka_unei.wards import WARDS, Ward

# One record per node and year: `history --format json|csv`.
FIELDS = (
    "lineage_id",
    "parent_lineage_id",
    "level",
    "fiscal_year",
    "policy_id",
    "node_key",
    "title",
    "thousand_yen",
    "printed",
)
_SQL = """
SELECT policy_id, fiscal_year, level, node_key, parent_key, title, thousand_yen, printed,
       lineage_id, parent_lineage_id
FROM nodes WHERE ward_slug = ? ORDER BY fiscal_year, policy_id, node_id
"""
_NON_WORD = re.compile(r"[\W_]+")


def fold_title(text: str | None) -> str:
    """NFKC, without brackets, punctuation and spaces (as lineage compares titles)."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text or "")).lower()


@dataclass
class Row:
    """One item across years under one parent row: year → that year's node record."""

    key: tuple[str, ...]
    parent: tuple[str, ...] | None
    cells: dict[int, dict[str, Any]] = field(default_factory=dict)
    children: list[Row] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, Any]:
        return self.cells[max(self.cells)]

    def order(self) -> tuple[int, tuple[int, ...]]:
        """Items still on the latest pages first, each year's items in page order."""
        latest = self.latest
        return -latest["fiscal_year"], tuple(int(p) for p in latest["node_key"].split("."))


@dataclass
class History:
    ward: Ward
    query: str | None
    years: list[int]  # every fiscal year of the ward in the dataset
    rows: list[tuple[int, Row]]  # (depth, row) in tree order: the rows shown

    def records(self) -> list[dict[str, Any]]:
        """One record per node and year shown, in the rows' order, years ascending."""
        return [
            {name: row.cells[year][name] for name in FIELDS}
            for _, row in self.rows
            for year in sorted(row.cells)
        ]


def read_nodes(conn: sqlite3.Connection, slug: str) -> list[dict[str, Any]]:
    require_columns(
        conn, "nodes", ("node_key", "parent_key", "thousand_yen", "printed", "lineage_id")
    )
    records = []
    for row in conn.execute(_SQL, (slug,)):
        record = dict(row)
        record["printed"] = as_bool(record["printed"])
        records.append(record)
    return records


def wards_with_data(conn: sqlite3.Connection) -> list[str]:
    """The wards the dataset holds, in the city's order (for an empty answer)."""
    slugs = {slug for (slug,) in conn.execute("SELECT DISTINCT ward_slug FROM nodes")}
    return [ward.name for ward in WARDS if ward.slug in slugs]


def build_rows(nodes: list[dict[str, Any]]) -> list[Row]:
    """The tree of rows, roots in order; each node placed in its own year's tree."""
    rows: dict[tuple[str, ...], Row] = {}
    placed: dict[tuple[str, str], tuple[str, ...]] = {}  # (policy_id, node_key) → row key
    for node in nodes:  # tree order within a year: a parent comes before its children
        year = node["fiscal_year"]
        parent = placed.get((node["policy_id"], node["parent_key"])) if node["parent_key"] else None
        key = (*(parent or ()), node["lineage_id"])
        if key in rows and year in rows[key].cells:  # two nodes of one lineage in one year
            key = (*key, f"{node['policy_id']}:{node['node_key']}")
        if key not in rows:
            rows[key] = Row(key, parent)
            if parent is not None:
                rows[parent].children.append(rows[key])
        rows[key].cells[year] = node
        placed[(node["policy_id"], node["node_key"])] = key
    for row in rows.values():
        row.children.sort(key=Row.order)
    return sorted((row for row in rows.values() if row.parent is None), key=Row.order)


def _walk(rows: list[Row], depth: int = 0) -> Iterator[tuple[int, Row]]:
    for row in rows:
        yield depth, row
        yield from _walk(row.children, depth + 1)


def history(conn: sqlite3.Connection, ward: Ward, query: str | None = None) -> History:
    """The ward's items; with a query, those whose title (any year) holds it, with the
    items they sit under."""
    nodes = read_nodes(conn, ward.slug)
    years = sorted({node["fiscal_year"] for node in nodes})
    shown = list(_walk(build_rows(nodes)))
    needle = fold_title(query)
    if needle:
        matched = {
            row.key
            for _, row in shown
            if any(needle in fold_title(cell["title"]) for cell in row.cells.values())
        }
        keep = {key[:n] for key in matched for n in range(1, len(key) + 1)}
        shown = [(depth, row) for depth, row in shown if row.key in keep]
    return History(ward, query, years, shown)


def _cell(record: dict[str, Any] | None) -> str:
    return "" if record is None else amount(record["thousand_yen"], record["printed"])


# Below this many columns the table leaves out the lineage ids (json and csv have them).
WIDE = 110


def history_table(view: History, width: int = WIDE) -> Table:
    title = f"{view.ward.name} ({view.ward.slug})" + (f" — {view.query}" if view.query else "")
    table = Table(
        title=escape(title),
        caption=f"{AMOUNT_NOTE}; 空欄: その年度のページにない",
    )
    table.add_column(HEADERS["level"])
    table.add_column(HEADERS["title"], overflow="fold")
    for year in view.years:
        table.add_column(str(year), justify="right", no_wrap=True)
    wide = width >= WIDE
    if wide:
        table.add_column(HEADERS["lineage_id"], style="dim", no_wrap=True)
    for depth, row in view.rows:
        latest = row.latest
        title = latest["title"] or "(名称なし)"
        table.add_row(
            level_ja(latest["level"]),
            "  " * depth + escape(title),
            *(_cell(row.cells.get(year)) for year in view.years),
            *([escape(latest["lineage_id"])] if wide else []),
        )
    return table
