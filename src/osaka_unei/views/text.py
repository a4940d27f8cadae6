"""What every view shares: the words, the amount format, JSON and CSV, the database.

Amounts are the `nodes` table's `thousand_yen` as it is, never recomputed: `32,550` where
the page prints it, `32,550 (計)` where it is the sum of the items below (`printed` false),
`—` where there is none. Levels are 経営課題 / 戦略 / 具体的取組; the column headers are
the same in every view.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from osaka_unei.amounts import NO_AMOUNT, SUMMED, UNIT, amount_text
from osaka_unei.errors import NotBuiltError
from osaka_unei.levels import LEVEL_JA
from osaka_unei.store import DATABASE_FILE

__all__ = ["DATABASE_FILE", "NO_AMOUNT", "SUMMED", "UNIT"]
# One header per field, the same in search, history and changes.
HEADERS = {
    "ward": "区",
    "fiscal_year": "年度",
    "level": "階層",
    "code": "番号",
    "title": "名称",
    "thousand_yen": f"予算額({UNIT})",
    "lineage_id": "系譜ID",
}
AMOUNT_NOTE = f"金額は{UNIT}; {SUMMED} 下位項目の合計; {NO_AMOUNT} 金額なし"


class DatasetError(NotBuiltError, ValueError):
    """The dataset cannot answer: missing, or older than the views (one line)."""


def level_ja(level: str) -> str:
    return LEVEL_JA.get(level, level)


def amount(thousand_yen: int | None, printed: bool | None = True) -> str:
    """`32,550`, `32,550 (計)` for a sum of the items below, `—` for none."""
    return amount_text(thousand_yen, printed)


def as_bool(value: Any) -> bool | None:
    """SQLite's 0/1 (or None) as a bool."""
    return None if value is None else bool(value)


def dumps_json(records: Iterable[Mapping[str, Any]]) -> str:
    """A JSON array, Japanese unescaped."""
    return json.dumps(list(records), ensure_ascii=False, indent=2)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dumps_csv(records: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> str:
    """CSV with a header; an empty cell where a value is missing, booleans true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow([_cell(record.get(field)) for field in fields])
    return out.getvalue().rstrip("\n")


def open_database(processed_dir: Path) -> sqlite3.Connection:
    """The dataset's database, read-only; DatasetError (one line) where it is missing."""
    path = Path(processed_dir) / DATABASE_FILE
    if not path.is_file():
        raise DatasetError(f"{path} not found: run `make all` to build the dataset")
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def require_columns(conn: sqlite3.Connection, table: str, columns: Iterable[str]) -> None:
    """DatasetError unless `table` has `columns`: a dataset built by an older version."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    missing = [name for name in columns if name not in have]
    if missing:
        raise DatasetError(
            f"the dataset's {table} table has no {', '.join(missing)}: "
            "it was built by an older version; run `make build`"
        )
