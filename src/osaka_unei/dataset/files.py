"""Tables → file bytes: Parquet (zstd) and CSV (UTF-8 with BOM for Excel), deterministic."""

from __future__ import annotations

import io
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


def csv_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM (Excel reads Japanese right), ISO dates and times, '\\n' lines."""
    out = df.copy()
    for column in spec.columns:
        if column.kind == "datetime":
            out[column.name] = out[column.name].astype(object).map(_iso_utc)
        elif column.kind == "boolean":
            out[column.name] = out[column.name].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")
