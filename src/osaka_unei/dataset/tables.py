"""Every published table's columns, read from data (``columns.toml``): one source for the
dtypes, the Parquet schema, the CSV, the SQLite tables, datapackage.json, the Datasette
metadata and ``load()`` (Japanese and English descriptions, units, keys, enums).

API: ``Column`` and ``TableSpec`` (``.names``, ``.schema``, ``.column(name)``,
``.with_enum(name, values)``), ``table_spec(name)`` for any table of the file, and the
constants of the core tables (``POLICIES`` … ``PARSE_REPORT``, ``TABLES``, ``SPECS``,
``NODE_COLUMNS``). The analysis tables' specs are constants of their own modules
(``analysis.lineage.LINEAGE``, ``analysis.themes.THEMES`` …), read from the same file.

To add a table:
1. In ``columns.toml``, a ``[tables.NAME]`` with ``ja``, ``en``, ``key`` and ``columns``
   (the column order: names of its own columns, ids of shared ``[columns.ID]``, or
   ``"*node"`` for the node columns), and a ``[tables.NAME.own.COLUMN]`` for each column
   of its own (``kind``, ``ja``, ``en``; ``unit``, ``required``, ``enum`` where they apply).
2. In the module that makes the table: ``SPEC = table_spec("NAME")`` (a core table: also a
   constant here, in ``TABLES``; a derived one: in ``publish/catalog.py``'s list).
3. ``tests/test_data_files.py`` checks the file (every column described, keys that exist,
   enums that match the code); the outputs (datapackage.json, Datasette) follow by
   themselves.
To add a column: add it to the table's ``columns`` list, and define it under ``own`` (or
use a shared one). Text changed here changes datapackage.json and the database's comments:
rebuild.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Literal, NamedTuple, get_args

import pandas as pd
import pyarrow as pa

from osaka_unei.errors import CuratedFileError
from osaka_unei.models import LEVELS  # noqa: F401 (re-exported: the node levels)

COLUMNS_FILE = "columns.toml"

Kind = Literal["string", "integer", "number", "boolean", "date", "datetime"]
_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    ja: str
    en: str
    unit: str | None = None  # 千円 / 円: also means "never negative"
    required: bool = False
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    ja: str
    en: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, _ARROW[c.kind], nullable=not c.required) for c in self.columns]
        )

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with its text columns as pandas' `str` (a missing value NaN), however
        it was made: a table's dtypes, and so its Parquet file's metadata, never depend on
        its content or on which wards a build made again (publish.units)."""
        text = [c.name for c in self.columns if c.kind == "string" and frame[c.name].dtype != "str"]
        return frame.astype(dict.fromkeys(text, "str")) if text else frame

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def with_enum(self, name: str, values: tuple[str, ...]) -> TableSpec:
        """The same table, its column `name` limited to `values` (an enum kept elsewhere as
        data, such as the codebook's theme ids)."""
        columns = tuple(
            replace(c, enum=tuple(values)) if c.name == name else c for c in self.columns
        )
        return replace(self, columns=columns)


# --- reading columns.toml ------------------------------------------------------------------

_COLUMN_FIELDS = {"name", "kind", "ja", "en", "unit", "required", "enum"}
_TABLE_FIELDS = {"ja", "en", "key", "columns", "own"}


def _column(where: str, name: str, entry: dict[str, Any]) -> Column:
    unknown = set(entry) - _COLUMN_FIELDS
    if unknown:
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: unknown fields {sorted(unknown)}")
    if entry.get("kind") not in get_args(Kind):
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: kind {entry.get('kind')!r}")
    if not entry.get("ja") or not entry.get("en"):
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: needs ja and en")
    enum = entry.get("enum")
    return Column(
        entry.get("name", name),
        entry["kind"],
        entry["ja"],
        entry["en"],
        unit=entry.get("unit"),
        required=bool(entry.get("required", False)),
        enum=tuple(enum) if enum is not None else None,
    )


def _table(
    name: str,
    entry: dict[str, Any],
    shared: dict[str, Column],
    groups: dict[str, tuple[Column, ...]],
) -> TableSpec:
    where = f"tables.{name}"
    unknown = set(entry) - _TABLE_FIELDS
    if unknown:
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: unknown fields {sorted(unknown)}")
    own = {
        column: _column(f"{where}.own.{column}", column, spec)
        for column, spec in entry.get("own", {}).items()
    }
    columns: list[Column] = []
    for ref in entry["columns"]:
        if ref.startswith("*") and ref[1:] in groups:
            columns.extend(groups[ref[1:]])
        elif ref in own:
            columns.append(own[ref])
        elif ref in shared:
            columns.append(shared[ref])
        else:
            raise CuratedFileError(f"{COLUMNS_FILE}: {where}: no column {ref!r}")
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: a column named twice")
    unused = set(own) - set(entry["columns"])
    if unused:
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: own columns not listed {sorted(unused)}")
    if not entry["key"] or not set(entry["key"]) <= set(names):
        raise CuratedFileError(f"{COLUMNS_FILE}: {where}: key {entry['key']} not among columns")
    return TableSpec(name, entry["ja"], entry["en"], tuple(columns), tuple(entry["key"]))


class ColumnsFile(NamedTuple):
    tables: dict[str, TableSpec]  # in file order
    groups: dict[str, tuple[Column, ...]]


def read_columns(text: str) -> ColumnsFile:
    """Every table (and column group) of a columns.toml text."""
    data = tomllib.loads(text)
    shared = {
        ident: _column(f"columns.{ident}", ident, entry)
        for ident, entry in data.get("columns", {}).items()
    }
    groups: dict[str, tuple[Column, ...]] = {}
    for group, refs in data.get("groups", {}).items():
        missing = [ref for ref in refs if ref not in shared]
        if missing:
            raise CuratedFileError(f"{COLUMNS_FILE}: groups.{group}: no column {missing[0]!r}")
        groups[group] = tuple(shared[ref] for ref in refs)
    tables = {name: _table(name, entry, shared, groups) for name, entry in data["tables"].items()}
    return ColumnsFile(tables, groups)


_FILE = read_columns(
    resources.files("osaka_unei.dataset").joinpath(COLUMNS_FILE).read_text("utf-8")
)


def table_spec(name: str) -> TableSpec:
    """The spec of any table of columns.toml."""
    try:
        return _FILE.tables[name]
    except KeyError:
        raise KeyError(f"{COLUMNS_FILE} has no table {name!r}") from None


# --- the core tables (the dataset stage's own) ---------------------------------------------

POLICIES = table_spec("policies")
ISSUES = table_spec("issues")
STRATEGIES = table_spec("strategies")
INITIATIVES = table_spec("initiatives")
BUDGETS = table_spec("budgets")
REFORMS = table_spec("reforms")
SDGS = table_spec("sdgs")
PARSE_REPORT = table_spec("parse_report")

# --- node tables: one row per issue, strategy or initiative (or per goal/theme of one) ------
# A node is named as in its own table: an issue by issue_position, a strategy by
# issue_position + position, an initiative by issue_position + strategy_position + position.
# node_key joins those into one non-null text ("2", "2.1", "2.1.3") for primary keys.
NODE_COLUMNS: tuple[Column, ...] = _FILE.groups["node"]

TABLES: tuple[TableSpec, ...] = (
    POLICIES,
    ISSUES,
    STRATEGIES,
    INITIATIVES,
    BUDGETS,
    REFORMS,
    SDGS,
    PARSE_REPORT,
)
TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)
SPECS = {spec.name: spec for spec in TABLES}
# Tables whose per-ward row counts must not shrink from one build to the next.
COUNTED_TABLES = (
    "policies",
    "issues",
    "strategies",
    "initiatives",
    "budgets",
    "reforms",
    "sdgs",
)
