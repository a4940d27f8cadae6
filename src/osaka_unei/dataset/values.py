"""A cell of a frame as a Python value: the one place where pandas' missing values (None,
NA, NaN, NaT) become None, so no stage prints or compares them by accident."""

from __future__ import annotations

from typing import Any

import pandas as pd


def missing(value: Any) -> bool:
    """None, pd.NA, NaN or NaT (a list or other non-scalar is never missing)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean(value: Any) -> Any:
    """A missing value as None; numpy scalars as Python ones; anything else as it is."""
    if missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def int_or_none(value: Any) -> int | None:
    """An integer cell (Int64, float or int) as int, or None where missing."""
    return None if missing(value) else int(value)
