"""Published tables → one SQLite database: same columns, keys, foreign keys, views, search.

Types follow the column kinds: string → TEXT, integer → INTEGER, boolean → INTEGER 0/1,
date → TEXT `YYYY-MM-DD`, datetime → TEXT ISO 8601 in UTC with `Z` (as in the CSV files).
Primary keys come from `TableSpec.key`; foreign keys and views are data (FOREIGN_KEYS,
VIEWS): one that names a table not being written is left out, so a table this module does
not know gets its key as primary key and nothing else. The database is built in a temp
file and vacuumed, so the same tables give the same bytes (with the same SQLite). Values are
converted a whole column at a time (sql_column), each cell as `_converter` says.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from osaka_unei.dataset.checks import CheckError
from osaka_unei.dataset.tables import Column, TableSpec
from osaka_unei.db import fts
from osaka_unei.db.nodes import NODES_SPEC, has_sources, make_nodes

SQL_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "date": "TEXT",
    "datetime": "TEXT",
}
# How each kind is stored, for column descriptions.
STORAGE_NOTES = {
    "boolean": "INTEGER 0/1 (1 = true)",
    "date": "TEXT ISO 8601 date (YYYY-MM-DD)",
    "datetime": "TEXT ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ)",
}


class ForeignKey(NamedTuple):
    child: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]


_ISSUE = ("policy_id", "issue_position")
_STRATEGY = (*_ISSUE, "strategy_position")
_INITIATIVE = (*_STRATEGY, "initiative_position")
_NODE_STRATEGY = (*_ISSUE, "strategy_position")  # an initiative node's strategy
_STRATEGY_KEY = ("policy_id", "issue_position", "position")
_INITIATIVE_KEY = ("policy_id", "issue_position", "strategy_position", "position")
_POLICY = ("policy_id",)

# A child row whose columns hold a NULL is not checked (SQLite's MATCH SIMPLE): so budgets
# and nodes reach a strategy or an initiative only on the rows of that level.
FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("issues", _POLICY, "policies", _POLICY),
    ForeignKey("strategies", _POLICY, "policies", _POLICY),
    ForeignKey("strategies", _ISSUE, "issues", _ISSUE),
    ForeignKey("initiatives", _POLICY, "policies", _POLICY),
    ForeignKey("initiatives", _STRATEGY, "strategies", _STRATEGY_KEY),
    ForeignKey("budgets", _POLICY, "policies", _POLICY),
    ForeignKey("budgets", _ISSUE, "issues", _ISSUE),
    ForeignKey("budgets", _STRATEGY, "strategies", _STRATEGY_KEY),
    ForeignKey("budgets", _INITIATIVE, "initiatives", _INITIATIVE_KEY),
    ForeignKey("reforms", _POLICY, "policies", _POLICY),
    ForeignKey("nodes", _POLICY, "policies", _POLICY),
    ForeignKey("nodes", _ISSUE, "issues", _ISSUE),
    ForeignKey("nodes", _NODE_STRATEGY, "strategies", _STRATEGY_KEY),
    # Datasette shows a theme by its codebook name (label column name_ja), facets included.
    ForeignKey("themes", ("theme",), "theme_codebook", ("theme",)),
)


class View(NamedTuple):
    name: str
    ja: str
    en: str
    tables: tuple[str, ...]  # created only when all of these are written
    sql: str
    inherited: tuple[str, ...]  # columns with the name and meaning of a table column
    columns: Mapping[str, tuple[str, str]]  # column → (ja, en): the view's own columns


VIEWS: tuple[View, ...] = (
    View(
        "initiatives_full",
        "具体的取組(区・年度・経営課題・戦略の名称つき)",
        "initiatives with their ward, year, issue and strategy titles",
        ("policies", "nodes"),
        """
        SELECT i.policy_id, p.ward, p.ward_slug, p.fiscal_year, p.draft,
               iss.code AS issue_code, iss.title AS issue_title,
               s.code AS strategy_code, s.title AS strategy_title,
               i.code AS initiative_code, i.title AS initiative_title,
               i.budget_thousand_yen,
               i.issue_position, i.strategy_position, i.position, i.node_key
        FROM nodes AS i
        JOIN policies AS p ON p.policy_id = i.policy_id
        JOIN nodes AS s ON s.policy_id = i.policy_id AND s.node_key = i.parent_key
        JOIN nodes AS iss ON iss.policy_id = s.policy_id AND iss.node_key = s.parent_key
        WHERE i.level = 'initiative'
        ORDER BY i.node_id
        """,
        (
            "policy_id",
            "ward",
            "ward_slug",
            "fiscal_year",
            "draft",
            "issue_code",
            "strategy_code",
            "initiative_code",
            "budget_thousand_yen",
            "issue_position",
            "strategy_position",
            "position",
            "node_key",
        ),
        {
            "issue_title": ("経営課題の名称", "issue title"),
            "strategy_title": ("戦略の名称", "strategy title"),
            "initiative_title": ("具体的取組の名称", "initiative title"),
        },
    ),
    View(
        "policy_totals",
        "区・年度ごとの件数と予算額",
        "counts and amounts per ward and fiscal year",
        ("policies", "initiatives"),
        """
        SELECT p.policy_id, p.ward, p.ward_slug, p.fiscal_year, p.draft,
               p.n_issues, p.n_strategies, p.n_initiatives,
               p.total_budget_thousand_yen,
               (SELECT count(i.budget_thousand_yen) FROM initiatives AS i
                 WHERE i.policy_id = p.policy_id) AS n_initiatives_with_budget,
               (SELECT sum(i.budget_thousand_yen) FROM initiatives AS i
                 WHERE i.policy_id = p.policy_id) AS initiatives_budget_thousand_yen
        FROM policies AS p
        ORDER BY p.policy_id
        """,
        (
            "policy_id",
            "ward",
            "ward_slug",
            "fiscal_year",
            "draft",
            "n_issues",
            "n_strategies",
            "n_initiatives",
            "total_budget_thousand_yen",
        ),
        {
            "n_initiatives_with_budget": (
                "予算額のある具体的取組の数",
                "number of initiatives with a main amount",
            ),
            "initiatives_budget_thousand_yen": (
                "具体的取組の予算額の合計(千円)",
                "sum of the initiatives' main amounts, in thousand yen",
            ),
        },
    ),
)


def database_specs(names: Collection[str], specs: Sequence[TableSpec]) -> tuple[TableSpec, ...]:
    """The specs of the tables a database of these tables holds: those given a frame, with
    `nodes` (the search index's table, with its node_id) in place of the published spec,
    or added when it can be built from them."""
    given = tuple(
        NODES_SPEC if spec.name == NODES_SPEC.name else spec for spec in specs if spec.name in names
    )
    if NODES_SPEC in given or not has_sources([spec.name for spec in given]):
        return given
    return (*given, NODES_SPEC)


def foreign_keys(names: Sequence[str]) -> tuple[ForeignKey, ...]:
    """The foreign keys among the given tables."""
    return tuple(fk for fk in FOREIGN_KEYS if fk.child in names and fk.parent in names)


def views(names: Sequence[str]) -> tuple[View, ...]:
    return tuple(view for view in VIEWS if all(t in names for t in view.tables))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _comment(column: Column) -> str:
    note = STORAGE_NOTES.get(column.kind)
    text = f"{column.ja} / {column.en}" + (f" [{note}]" if note else "")
    return " ".join(text.split())  # one line: it ends at the newline


def create_table_sql(spec: TableSpec, names: Sequence[str]) -> str:
    """CREATE TABLE with types, NOT NULL, primary key and the foreign keys among `names`;
    each column carries its description as an SQL comment (kept in sqlite_master)."""
    lines = [
        f"  {_quote(c.name)} {SQL_TYPES[c.kind]}{' NOT NULL' if c.required else ''},"
        f" -- {_comment(c)}"
        for c in spec.columns
    ]
    clauses = [f"PRIMARY KEY ({', '.join(map(_quote, spec.key))})"]
    for fk in foreign_keys(names):
        if fk.child == spec.name:
            clauses.append(
                f"FOREIGN KEY ({', '.join(map(_quote, fk.columns))}) REFERENCES "
                f"{_quote(fk.parent)} ({', '.join(map(_quote, fk.parent_columns))})"
            )
    body = "\n".join(lines) + "\n  " + ",\n  ".join(clauses)
    return f"CREATE TABLE {_quote(spec.name)} (\n{body}\n)"


def _converter(kind: str) -> Any:
    if kind == "integer":
        return int
    if kind == "number":
        return float
    if kind == "boolean":
        return lambda v: int(bool(v))
    if kind == "date":
        return lambda v: (v.date() if isinstance(v, dt.datetime) else v).isoformat()
    if kind == "datetime":
        return lambda v: pd.Timestamp(v).tz_convert("UTC").isoformat().replace("+00:00", "Z")
    return str


# The Python type a kind is bound as: a column already all of it (or None) is used as it is.
_BOUND_AS: dict[str, type] = {"integer": int, "number": float, "string": str}
# Kinds whose values repeat (a fetch time per version): each distinct value converted once.
_MEMO_KINDS = frozenset({"date", "datetime"})


def sql_column(kind: str, series: pd.Series) -> list[Any]:
    """A column as SQLite values (NA → None), whole: what `_converter` makes of each cell."""
    convert = _converter(kind)
    if kind in _MEMO_KINDS:
        codes, distinct = pd.factorize(series)  # NA → code -1
        texts = [convert(v) for v in distinct]
        return [None if code < 0 else texts[code] for code in codes.tolist()]
    values: list[Any] = series.to_numpy(dtype=object, na_value=None).tolist()
    bound = _BOUND_AS.get(kind)
    if bound is not None and set(map(type, values)) <= {bound, type(None)}:
        return values
    return [None if v is None else convert(v) for v in values]


def sql_columns(spec: TableSpec, df: pd.DataFrame) -> dict[str, list[Any]]:
    """The frame's columns as SQLite values, by name, in the spec's column order."""
    return {c.name: sql_column(c.kind, df[c.name]) for c in spec.columns}


def sql_rows(spec: TableSpec, df: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as SQLite values, in the spec's column order (NA → NULL)."""
    return zip(*sql_columns(spec, df).values(), strict=True)


def _fts_rows(nodes: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The search index's rows for a `nodes` frame (see _fts_rows_of)."""
    return _fts_rows_of(sql_columns(NODES_SPEC, nodes))


def _fts_rows_of(columns: Mapping[str, list[Any]]) -> Iterator[tuple[Any, ...]]:
    """The search index's rows from the nodes table's SQLite columns: node_id, the indexed
    texts as bigram tokens, the unindexed columns."""
    tokens = [fts.bigram_column(columns[name]) for name in fts.FTS_INDEXED]
    return zip(
        columns["node_id"], *tokens, *(columns[name] for name in fts.FTS_UNINDEXED), strict=True
    )


def fill(
    conn: sqlite3.Connection, tables: Mapping[str, pd.DataFrame], specs: Sequence[TableSpec]
) -> None:
    """Create and fill every table, the search index and the views in an empty database."""
    frames = dict(tables)
    all_specs = database_specs(frames, specs)
    if NODES_SPEC in all_specs:
        frames[NODES_SPEC.name] = make_nodes(frames)
    written = [spec.name for spec in all_specs]
    node_columns: dict[str, list[Any]] = {}
    with conn:
        for spec in all_specs:
            conn.execute(create_table_sql(spec, written))
            marks = ", ".join("?" * len(spec.columns))
            columns = sql_columns(spec, frames[spec.name])
            conn.executemany(
                f"INSERT INTO {_quote(spec.name)} VALUES ({marks})",
                zip(*columns.values(), strict=True),
            )
            if spec.name == NODES_SPEC.name:
                node_columns = columns  # the search index reads the same values
        if NODES_SPEC.name in written:
            conn.execute(fts.create_fts_sql())
            conn.executemany(fts.insert_fts_sql(), _fts_rows_of(node_columns))
            conn.execute(f"INSERT INTO {fts.FTS} ({fts.FTS}) VALUES ('optimize')")
        for view in views(written):
            conn.execute(f"CREATE VIEW {_quote(view.name)} AS {view.sql.strip()}")
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise CheckError(
            f"foreign keys: {len(broken)} rows break them, first {table} rowid {rowid} → {parent}"
        )


def write_database(
    path: Path | str,
    tables: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    *,
    durable: bool = True,
) -> None:
    """Build the database in a temp file beside `path`, then rename it into place: never a
    copy of it in memory (a build of 10,000 pages held three). Raises CheckError if a
    foreign key is broken; then `path` is left as it was.

    The temp file is written with no rollback journal and no syncs: nothing reads it before
    the rename, and a write that fails is removed, never rolled back. It is fsynced once
    before the rename, so `path` is never renamed to bytes not yet on disk; durable=False
    leaves that to the caller (a build's staging folder: publish.atomic fsyncs every file it
    publishes before its commit point, and publishes an unchanged database not at all).
    Neither setting changes a byte of the file (VACUUM rewrites it whole)."""
    target = Path(path)
    fd, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    os.close(fd)
    try:
        conn = sqlite3.connect(staging)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            fill(conn, tables, specs)
            conn.execute("VACUUM")
        finally:
            conn.close()
        if durable:
            with open(staging, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
