"""Tables → file bytes: Parquet (zstd) and CSV (UTF-8 with BOM for Excel), deterministic."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_object_dtype

from osaka_unei.dataset.checks import CheckError
from osaka_unei.dataset.tables import Column, TableSpec


def parquet_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    try:
        # from_pandas keeps pandas metadata, so plain pd.read_parquet gives Int64 back; one
        # thread: the tables are small, and a thread pool per table costs more than it saves.
        table = pa.Table.from_pandas(df, schema=spec.schema, preserve_index=False, nthreads=1)
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
    text cell starting like a formula (=, +, -, @, tab, CR) gets a leading '.

    Written column by column with Arrow's kernels (`_csv_body`); a column it does not know
    how to write exactly as pandas would (a mixed object column, a time zone other than
    UTC …) sends the table through pandas' writer (`_pandas_csv_text`, the reference): the
    bytes are the same either way."""
    body = _csv_body(spec, df)
    if body is None:
        return _pandas_csv_text(spec, df).encode("utf-8-sig")
    return "\ufeff".encode() + _csv_line(spec.names) + body


def _pandas_csv_text(spec: TableSpec, df: pd.DataFrame) -> str:
    """The CSV as pandas writes it (csv.writer, minimal quoting)."""
    out = df.copy()
    for column in spec.columns:
        if column.kind == "string":
            out[column.name] = neutralise_formulas(out[column.name])
        elif column.kind == "datetime":
            out[column.name] = out[column.name].astype(object).map(_iso_utc)
        elif column.kind == "boolean":
            out[column.name] = out[column.name].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n")


# --- the fast writer: each column's cells as text, joined into lines by Arrow -----------

_TEXT = pa.large_string()


def _quoting_chars() -> str:
    """The characters for which csv.writer (minimal quoting, '\\n' lines) quotes a cell, as
    this Python's csv module does it (3.11 leaves a lone CR unquoted)."""
    found = ""
    for char in ',"\n\r':
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["a", f"x{char}y"])
        if buffer.getvalue() != f"a,x{char}y\n":
            found += char
    return found


_QUOTE_CHARS = _quoting_chars()
_QUOTE_RE = "[" + re.escape(_QUOTE_CHARS) + "]"


def _csv_line(cells: list[str]) -> bytes:
    """One line as csv.writer writes it (the header)."""
    quoted = [
        '"' + cell.replace('"', '""') + '"' if any(c in cell for c in _QUOTE_CHARS) else cell
        for cell in cells
    ]
    return (",".join(quoted) + "\n").encode()


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _join(*parts: Any) -> pa.Array:
    """Element-wise concatenation; a null part counts as ''."""
    return pc.binary_join_element_wise(
        *parts, _scalar(""), null_handling="replace", null_replacement=""
    )


def _quoted(text: pa.Array) -> pa.Array:
    """Cells quoted as csv.writer quotes them: within "…", a " doubled, where needed."""
    needs = pc.match_substring_regex(text, _QUOTE_RE)
    if not pc.any(needs).as_py():
        return text
    escaped = _join(_scalar('"'), pc.replace_substring(text, '"', '""'), _scalar('"'))
    return pc.if_else(needs, escaped, text)


def _arrow(values: pd.Series) -> pa.Array | None:
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def _four_digit_years(array: pa.Array) -> bool:
    years = pc.min_max(pc.year(array))
    low, high = years["min"].as_py(), years["max"].as_py()
    return low is None or (low >= 1000 and high <= 9999)


def _text(column: Column, values: pd.Series) -> pa.Array | None:
    """Each cell of one column as text before quoting (null for pandas' '', a string
    column's cells not yet neutralised), the text pandas writes; None where this column
    needs pandas."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return None
    array = _arrow(values)
    if array is None:
        return None
    if array.null_count == len(array):
        return pa.nulls(len(array), _TEXT)  # pandas writes every null as ''
    kind = column.kind
    text: pa.Array
    if kind == "datetime":
        if not (isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"):
            return None
        try:  # whole seconds only: isoformat adds a fraction where there is one
            seconds = array.cast(pa.timestamp("s", tz="UTC"))
        except pa.ArrowInvalid:
            return None
        if not _four_digit_years(seconds):
            return None
        # "2024-04-01 09:00:00" (UTC, as a naive time) → "2024-04-01T09:00:00Z"
        naive = seconds.cast(pa.int64()).cast(pa.timestamp("s")).cast(_TEXT)
        text = _join(pc.utf8_replace_slice(naive, 10, 11, "T"), _scalar("Z"))
        return pc.if_else(array.is_valid(), text, pa.scalar(None, _TEXT))
    if kind == "boolean":
        if not pa.types.is_boolean(array.type):
            return None
        text = pc.if_else(array, _scalar("true"), _scalar("false"))
    elif kind == "string" and not (is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)):
        return None  # (pandas' .str would refuse it)
    elif is_object_dtype(dtype):
        # text (a string column, or a date column holding text) or datetime.date objects
        if pa.types.is_date32(array.type):
            if not _four_digit_years(array):
                return None
            text = array.cast(pa.string())
        else:
            text = array
    elif isinstance(dtype, pd.StringDtype):
        text = array
    elif is_integer_dtype(dtype) and not is_bool_dtype(dtype):
        text = array.cast(pa.string())
    elif isinstance(dtype, np.dtype) and dtype == np.float64:
        # as pandas does: numpy's text of each float, '' for NaN
        floats = values.to_numpy()
        strings = floats.astype(str).astype(object)
        strings[np.isnan(floats)] = None
        text = pa.array(strings, _TEXT)
    else:
        return None
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    return text.cast(_TEXT)


def _data(text: pa.Array) -> bytes:
    """The UTF-8 bytes of all of an Arrow text array's cells, one after the other."""
    if len(text) == 0 or text.buffers()[2] is None:
        return b""
    _, offsets, data = text.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    return data.to_pybytes()[int(ends[0]) : int(ends[-1])]


_FORMULA_FIRST = pa.array(["=", "+", "-", "@", "\t", "\r"], _TEXT)  # FORMULA_START


def _formula_starts(text: pa.Array) -> pa.Array:
    """Whether each cell starts like a formula (its first character; null: no)."""
    return pc.is_in(pc.utf8_slice_codeunits(text, 0, 1), value_set=_FORMULA_FIRST)


def _cells(column: Column, text: pa.Array, formulas: bool) -> pa.Array:
    """A column's text as the CSV's cells: in a string column, a ' before a formula start
    (where `formulas` says the table has one) and a carriage return made a line feed;
    quoted where csv.writer quotes."""
    if column.kind == "string" and formulas:
        starts = _formula_starts(text)
        if pc.any(starts).as_py():
            text = pc.if_else(starts, _join(_scalar("'"), text), text)
    data = _data(text)  # a look at the bytes first: these characters are rare
    if column.kind == "string" and b"\r" in data:
        text = pc.replace_substring_regex(text, "\r\n?", "\n")
        data = _data(text)  # (a line feed now: quoted)
    if any(char.encode() in data for char in _QUOTE_CHARS):
        text = _quoted(text)
    return text


def _csv_body(spec: TableSpec, df: pd.DataFrame) -> bytes | None:
    """The CSV's rows (no header), or None where a column needs pandas' writer."""
    if list(df.columns) != spec.names or len(spec.columns) < 2:
        # (one column: csv.writer writes an empty cell alone on its row as "")
        return None
    texts = []
    for column in spec.columns:
        text = _text(column, df[column.name])
        if text is None:
            return None
        texts.append(text)
    # one look at the first characters of all the text columns (a formula start is rare)
    strings = [
        text for column, text in zip(spec.columns, texts, strict=True) if column.kind == "string"
    ]
    formulas = bool(strings) and pc.any(_formula_starts(pa.concat_arrays(strings))).as_py()
    columns = [
        _cells(column, text, formulas) for column, text in zip(spec.columns, texts, strict=True)
    ]
    rows = pc.binary_join_element_wise(
        *columns, _scalar(","), null_handling="replace", null_replacement=""
    )
    return _data(_join(rows, _scalar("\n")))
