"""The published tables as pandas DataFrames, for notebooks: ``osaka_unei.load()``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osaka_unei.dataset.tables import SPECS, TABLE_NAMES
from osaka_unei.store import DEFAULT_OUT_DIR


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.is_dir():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[2] / DEFAULT_OUT_DIR


def load(
    name: str | None = None, processed_dir: Path | str | None = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named)."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()
    names = TABLE_NAMES if name is None else (name,)
    if name is not None and name not in SPECS:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLE_NAMES)}")
    frames = {}
    for table in names:
        path = folder / f"{table}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `make all` to build the dataset")
        frames[table] = pd.read_parquet(path)
    return frames[name] if name is not None else frames
