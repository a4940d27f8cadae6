"""Tables → file bytes: Parquet (zstd) and CSV (UTF-8 with BOM for Excel), deterministic."""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from osaka_unei.dataset.checks import CheckError
from osaka_unei.dataset.tables import TableSpec


def parquet_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    try:
        # from_pandas keeps pandas metadata, so plain pd.read_parquet gives Int64 back.
        table = pa.Table.from_pandas(df, schema=spec.schema, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise CheckError(f"types: {spec.name} does not fit its schema: {exc}") from exc
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _iso_utc(value: Any) -> Any:
    return value if pd.isna(value) else value.isoformat().replace("+00:00", "Z")


# A text cell that a spreadsheet would take for a formula (OWASP, "CSV injection"): one
# starting with =, +, -, @, a tab or a carriage return. In the CSV (written for Excel) it
# is prefixed with ' so it stays text; Parquet and SQLite keep the exact text. Only text
# columns: a negative number is a number.
FORMULA_START = r"[=+\-@\t\r]"
_NEEDS_CARE = re.compile(rf"^{FORMULA_START}|\r")


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """A text column with every cell that starts like a formula prefixed with ', and a
    carriage return inside a cell written as a line feed (pandas quotes a cell holding a
    line feed, not one holding a lone CR, which readers take for the end of the row)."""
    if values.isna().all():
        return values
    odd = values.str.contains(_NEEDS_CARE, regex=True, na=False)
    if not odd.any():
        return values  # nearly always: the column as it is (one scan)
    text = values[odd].astype(str)
    starts = pd.Series(False, index=values.index)
    starts[odd] = text.str.match(FORMULA_START)
    returns = pd.Series(False, index=values.index)
    returns[odd] = text.str.contains("\r", regex=False)
    values = values.astype(object)
    values[starts] = "'" + values[starts].astype(str)
    values[returns] = values[returns].astype(str).str.replace("\r\n?", "\n", regex=True)
    return values


def csv_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM (Excel reads Japanese right), ISO dates and times, '\\n' lines; a
    text cell starting like a formula (=, +, -, @, tab, CR) gets a leading '."""
    out = df.copy()
    for column in spec.columns:
        if column.kind == "string":
            out[column.name] = neutralise_formulas(out[column.name])
        elif column.kind == "datetime":
            out[column.name] = out[column.name].astype(object).map(_iso_utc)
        elif column.kind == "boolean":
            out[column.name] = out[column.name].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")
