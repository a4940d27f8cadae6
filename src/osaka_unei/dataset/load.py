"""The published tables as pandas DataFrames, for notebooks: ``osaka_unei.load()``.

Which tables there are, and which columns are dates, is read from the build's own
datapackage.json (metadata as data), so a table added to a build needs nothing here.
Every table comes from the one build datapackage.json names: each file is checked against
the sha256 it records (``osaka_unei.published``), and read again if a build was being
published meanwhile, a few times at most, then one clear error.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
from osaka_unei.errors import BadInputError, NotBuiltError
from osaka_unei.published import read_build
from osaka_unei.store import DEFAULT_OUT_DIR, resolve_published
from osaka_unei.wards import WARD_ORDER


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.exists() or DEFAULT_OUT_DIR.is_symlink():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[3] / DEFAULT_OUT_DIR


def _resources(package: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Table name → its Parquet file and date columns, from the build's datapackage.json."""
    return {
        resource["name"]: (
            resource.get("parquet_path", f"{resource['name']}.parquet"),
            [field["name"] for field in resource["schema"]["fields"] if field["type"] == "date"],
        )
        for resource in package["resources"]
    }


def _read(data: bytes, dates: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(io.BytesIO(data))
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return ward_categories(frame)


def ward_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """`ward` (where a table has it) as an ordered Categorical of the 24 wards in the city's
    order (wards.WARD_ORDER), so that sorting, groupby and pivots list 北区 first, not in
    code-point order; the values stay the names."""
    if "ward" in frame.columns:
        frame["ward"] = pd.Categorical(frame["ward"], categories=list(WARD_ORDER), ordered=True)
    return frame


def load(
    name: str | None = None,
    processed_dir: Path | str | None = None,
    *,
    only: Collection[str] | None = None,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named), all from one
    build; with `only`, of all the tables those of these names (no other is read). Nullable
    integers load as Int64, dates (policies.published) as datetime64 and `ward` as a
    Categorical in the city's order (ward_categories).

    NotBuiltError (a FileNotFoundError) when nothing is built; published.NotWhole (a
    StoreError, a ValueError) when the
    folder kept changing while it was read."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()

    def wanted(package: dict[str, Any]) -> list[str]:
        resources = _resources(package)
        if name is not None and name not in resources:
            raise BadInputError(f"unknown table {name!r}; tables: {', '.join(resources)}")
        return [resources[table][0] for table in resources if chosen(table)]

    def chosen(table: str) -> bool:
        if name is not None:
            return table == name
        return only is None or table in only

    try:
        package, files = read_build(folder, DATAPACKAGE_NAME, wanted)
    except FileNotFoundError:
        raise NotBuiltError(
            f"{folder / DATAPACKAGE_NAME} not found: run `make all` to build the dataset"
        ) from None
    resources = _resources(package)
    frames = {
        table: _read(files[path], dates)
        for table, (path, dates) in resources.items()
        if chosen(table)
    }
    return frames[name] if name is not None else frames


def previous_table(
    processed_dir: Path, name: str, columns: Sequence[str] | None = None
) -> pd.DataFrame | None:
    """A table of the build now published, or None (the first build, or a build that did
    not have it): what keeps ids stable from one build to the next. Read with the build's
    lock held (no publish under way), through the link of a checkout from before stable
    paths where there is one. `columns`: only these (all by default)."""
    path = resolve_published(processed_dir) / f"{name}.parquet"
    if not path.is_file():
        return None
    return pd.read_parquet(path, columns=None if columns is None else list(columns))
