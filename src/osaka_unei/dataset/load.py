"""The published tables as pandas DataFrames, for notebooks: ``osaka_unei.load()``.

Which tables there are, and which columns are dates, is read from the build's own
datapackage.json (metadata as data), so a table added to a build needs nothing here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
from osaka_unei.store import DEFAULT_OUT_DIR


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.is_dir():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[3] / DEFAULT_OUT_DIR


def _resources(folder: Path) -> dict[str, list[str]]:
    """Table name → its date columns, from the build's datapackage.json."""
    descriptor = folder / DATAPACKAGE_NAME
    if not descriptor.is_file():
        raise FileNotFoundError(f"{descriptor} not found: run `make all` to build the dataset")
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    return {
        resource["name"]: [
            field["name"] for field in resource["schema"]["fields"] if field["type"] == "date"
        ]
        for resource in package["resources"]
    }


def load(
    name: str | None = None, processed_dir: Path | str | None = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named). Nullable
    integers load as Int64 and dates (policies.published) as datetime64."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()
    resources = _resources(folder)
    if name is not None and name not in resources:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(resources)}")
    frames = {}
    for table in resources if name is None else (name,):
        path = folder / f"{table}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `make all` to build the dataset")
        frame = pd.read_parquet(path)
        for column in resources[table]:
            frame[column] = pd.to_datetime(frame[column])
        frames[table] = frame
    return frames[name] if name is not None else frames


def previous_table(processed_dir: Path, name: str) -> pd.DataFrame | None:
    """A table of the build now published, or None (the first build, or a build that did
    not have it): what keeps ids stable from one build to the next."""
    path = processed_dir / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None
