"""The published tables as pandas DataFrames, for notebooks: ``osaka_unei.load()``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osaka_unei.dataset.tables import SPECS, TABLE_NAMES
from osaka_unei.store import DEFAULT_OUT_DIR, resolve_published

# A build published while load() reads removes the build it replaced: read again, from the
# new one, a few times at most.
_ATTEMPTS = 3


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.exists() or DEFAULT_OUT_DIR.is_symlink():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[2] / DEFAULT_OUT_DIR


def load(
    name: str | None = None, processed_dir: Path | str | None = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named), all from one
    build: data/processed is a symlink (or, in a clone without symlinks, a file naming the
    build folder), resolved once."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()
    if name is not None and name not in SPECS:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLE_NAMES)}")
    names = TABLE_NAMES if name is None else (name,)
    for attempt in range(_ATTEMPTS):
        build = resolve_published(folder)
        try:
            frames = {table: pd.read_parquet(build / f"{table}.parquet") for table in names}
        except FileNotFoundError:
            if attempt + 1 < _ATTEMPTS and resolve_published(folder) != build:
                continue  # replaced while reading
            missing = next((t for t in names if not (build / f"{t}.parquet").is_file()), names[0])
            raise FileNotFoundError(
                f"{folder / f'{missing}.parquet'} not found: run `make all` to build the dataset"
            ) from None
        return frames[name] if name is not None else frames
    raise AssertionError("unreachable")
