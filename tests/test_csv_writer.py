"""The CSV writer (dataset.files.csv_bytes) writes, through Arrow, the same bytes as
pandas' to_csv with the formula and carriage-return rules (files._pandas_csv_text)."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from osaka_unei.dataset import files
from osaka_unei.dataset.tables import Column, Kind, TableSpec

ODD_TEXT = [
    "plain",
    "港区の安全・安心",
    "",
    None,
    "a,b",
    'say "hi"',
    '"',
    "line\nfeed",
    "carriage\rreturn",
    "crlf\r\nend",
    "\r",
    "\r\n",
    "\rx",
    "=1+2",
    '=HYPERLINK("http://evil.example","x")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\tx",
    "'=already",
    " =space first",
    "a=b",
    "1,234千円",
    "\u2028",
    "é\x0b",
]


def spec_of(kinds: dict[str, Kind]) -> TableSpec:
    columns = tuple(Column(name, kind, name, name) for name, kind in kinds.items())
    return TableSpec("t", "t", "t", columns, (next(iter(kinds)),))


def reference(spec: TableSpec, frame: pd.DataFrame) -> bytes:
    return files._pandas_csv_text(spec, frame).encode("utf-8-sig")


def assert_same(spec: TableSpec, frame: pd.DataFrame, *, fast: bool = True) -> None:
    assert files.csv_bytes(spec, frame) == reference(spec, frame)
    assert (files._csv_body(spec, frame) is not None) == fast


def test_text_cells_every_rule() -> None:
    n = len(ODD_TEXT)
    spec = spec_of({"id": "integer", "text": "string", "other": "string", "kind": "string"})
    for dtype in ("str", object):
        frame = pd.DataFrame(
            {
                "id": pd.array(range(n), dtype="Int64"),
                "text": pd.Series(ODD_TEXT, dtype=dtype),
                "other": pd.Series(list(reversed(ODD_TEXT)), dtype=dtype),
                "kind": ["x"] * n,
            }
        )
        assert_same(spec, frame)
        text = files.csv_bytes(spec, frame).decode("utf-8-sig")
        assert "\r" not in text and "'=1+2" in text and '"\'=HYPERLINK(""' in text


def test_one_odd_cell_among_plain_ones() -> None:
    spec = spec_of({"a": "string", "b": "string"})
    for odd in ODD_TEXT:
        frame = pd.DataFrame({"a": ["x", odd, "y"], "b": ["1", "2", odd]})
        assert_same(spec, frame)


def test_numbers_booleans_dates_and_times() -> None:
    spec = spec_of(
        {
            "int": "integer",
            "plain_int": "integer",
            "float": "number",
            "flag": "boolean",
            "plain_flag": "boolean",
            "day": "date",
            "at": "datetime",
            "text": "string",
        }
    )
    frame = pd.DataFrame(
        {
            "int": pd.array([-5, None, 0, 10**15, 7, 2022], dtype="Int64"),
            "plain_int": np.array([-1, 0, 1, 2, 3, 4], dtype="int64"),
            "float": [0.1, float("nan"), 1.0, 1e20, -0.0, 1e-7],
            "flag": pd.array([True, False, None, True, False, None], dtype="boolean"),
            "plain_flag": [True, False, True, False, True, False],
            "day": [dt.date(2024, 4, 1), None, dt.date(1999, 12, 31), None, None, None],
            "at": pd.to_datetime(
                [
                    "2024-04-01 09:00:00",
                    None,
                    "2013-01-01 00:00:00",
                    "2099-12-31 23:59:59",
                    None,
                    None,
                ],
                utc=True,
            ),
            "text": ["-x", "+", "@", "a", None, "="],
        }
    )
    assert_same(spec, frame)
    text = files.csv_bytes(spec, frame).decode("utf-8-sig")
    assert "2024-04-01T09:00:00Z" in text and ",2024-04-01," in text and ",true," in text
    assert text.splitlines()[1].startswith("-5,-1,0.1,true,true,2024-04-01,")


def test_empty_and_all_null_columns() -> None:
    spec = spec_of({"a": "string", "b": "integer", "c": "datetime", "d": "boolean"})
    empty = pd.DataFrame(
        {
            "a": pd.Series([], dtype="str"),
            "b": pd.array([], dtype="Int64"),
            "c": pd.to_datetime(pd.Series([], dtype="object"), utc=True),
            "d": pd.array([], dtype="boolean"),
        }
    )
    assert_same(spec, empty)
    assert files.csv_bytes(spec, empty) == "\ufeffa,b,c,d\n".encode()
    nulls = pd.DataFrame(
        {
            "a": [None, None],
            "b": pd.array([None, None], dtype="Int64"),
            "c": pd.to_datetime([None, None], utc=True),
            "d": pd.array([None, None], dtype="boolean"),
        }
    )
    assert_same(spec, nulls)
    floats = pd.DataFrame(
        {"a": [np.nan, np.nan], "b": [1, 2], "c": [np.nan, np.nan], "d": [True, None]}
    )
    assert_same(spec, floats)


@pytest.mark.parametrize(
    "times",
    [
        pd.to_datetime(["2024-04-01 09:00:00.250", None], utc=True),  # a fraction of a second
        pd.to_datetime(["2024-04-01 09:00:00", None]).tz_localize("Asia/Tokyo"),
        pd.to_datetime(["2024-04-01 09:00:00", None]),  # no time zone
    ],
)
def test_times_pandas_writes_itself(times: pd.DatetimeIndex) -> None:
    spec = spec_of({"a": "string", "at": "datetime"})
    assert_same(spec, pd.DataFrame({"a": ["x", "y"], "at": times}), fast=False)


def test_unusual_columns_go_through_pandas() -> None:
    spec = spec_of({"a": "string", "b": "integer"})
    mixed = pd.DataFrame({"a": ["x", 1], "b": [1, 2]}, dtype=object)
    assert_same(spec, mixed, fast=False)
    category = pd.DataFrame({"a": pd.Categorical(["x", "=y"]), "b": [1, 2]})
    assert_same(spec, category, fast=False)
    one = spec_of({"a": "string"})
    assert_same(one, pd.DataFrame({"a": ["", "x"]}), fast=False)  # csv.writer's '""' row


def test_random_text_matches_pandas() -> None:
    rng = random.Random(21)
    alphabet = [*"ab,\"\n\r\t=+-@' 港区", "\r\n"]
    spec = spec_of({"k": "integer", "x": "string", "y": "string"})
    for _ in range(20):
        n = rng.randint(0, 40)
        cells = [
            [
                None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randint(0, 6)))
                for _ in range(n)
            ]
            for _ in range(2)
        ]
        frame = pd.DataFrame(
            {
                "k": pd.array(range(n), dtype="Int64"),
                "x": pd.Series(cells[0], dtype="str"),
                "y": cells[1],
            }
        )
        assert_same(spec, frame)
