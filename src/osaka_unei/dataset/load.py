"""The published tables as pandas DataFrames, for notebooks: ``osaka_unei.load()``.

Which tables there are, and which columns are dates, is read from the build's own
datapackage.json (metadata as data), so a table added to a build needs nothing here.
data/processed is a symlink to one build (or, in a clone without symlinks, a file naming
it); it is resolved once, so every table comes from the same build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
from osaka_unei.store import DEFAULT_OUT_DIR, resolve_published
from osaka_unei.wards import WARD_ORDER

# A build published while load() reads removes the build it replaced: read again, from the
# new one, a few times at most.
_ATTEMPTS = 3


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.exists() or DEFAULT_OUT_DIR.is_symlink():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[3] / DEFAULT_OUT_DIR


def _resources(build: Path, folder: Path) -> dict[str, list[str]]:
    """Table name → its date columns, from the build's datapackage.json."""
    descriptor = build / DATAPACKAGE_NAME
    if not descriptor.is_file():
        raise FileNotFoundError(
            f"{folder / DATAPACKAGE_NAME} not found: run `make all` to build the dataset"
        )
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    return {
        resource["name"]: [
            field["name"] for field in resource["schema"]["fields"] if field["type"] == "date"
        ]
        for resource in package["resources"]
    }


def _read(build: Path, table: str, dates: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(build / f"{table}.parquet")
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
    name: str | None = None, processed_dir: Path | str | None = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named), all from one
    build. Nullable integers load as Int64, dates (policies.published) as datetime64 and
    `ward` as a Categorical in the city's order (ward_categories)."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()
    for attempt in range(_ATTEMPTS):
        build = resolve_published(folder)
        try:
            resources = _resources(build, folder)
            if name is not None and name not in resources:
                raise ValueError(f"unknown table {name!r}; tables: {', '.join(resources)}")
            names = list(resources) if name is None else [name]
            frames = {table: _read(build, table, resources[table]) for table in names}
        except FileNotFoundError as exc:
            if attempt + 1 < _ATTEMPTS and resolve_published(folder) != build:
                continue  # replaced while reading
            missing = Path(getattr(exc, "filename", None) or folder).name
            raise FileNotFoundError(
                f"{folder / missing} not found: run `make all` to build the dataset"
            ) from None
        return frames[name] if name is not None else frames
    raise AssertionError("unreachable")


def previous_table(processed_dir: Path, name: str) -> pd.DataFrame | None:
    """A table of the build now published, or None (the first build, or a build that did
    not have it): what keeps ids stable from one build to the next."""
    path = resolve_published(processed_dir) / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None
