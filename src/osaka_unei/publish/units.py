"""A build's units, and what an earlier build left of each: the build redoes only the
wards whose inputs changed.

A unit is one ward's stored pages (by the folder `fetch` stored them in): every row of
every table is a function of one unit's pages, the curated rows about that ward and the
ward's previous lineage ids (lineage links a ward's own years; themes, versions and changes
are per node or per page). Only the checks, the curated files and the published files are
built from the whole.

The memo keeps each table of the last build as one Arrow IPC file with a `_unit` column,
and for each unit two keys: `inputs` (the code, and each stored version's manifest records
and file state) says its core tables still hold; `derived` (inputs, the curated rows about
the ward, its previous lineage ids) says its analysis tables do. A file whose sha256
differs from the index, a wrong format or any unreadable part is a miss: the units are
built again. Written by rename, index last, so a build killed while writing leaves the old
memo or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from osaka_unei import store
from osaka_unei.dataset.flatten import ward_of

UNIT = "_unit"  # the column naming each row's unit in the memo's tables
MEMO_DIR = "units"
INDEX = "index.json"
FORMAT = 1
MAX_INDEX_BYTES = 10_000_000  # an index of 24 wards is a few KB
MAX_PUBLISHED = 8


@functools.cache
def code_fingerprint() -> str:
    """A hash of the package's source and data files: a change to any rule redoes every unit."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def digest(parts: Iterable[Any]) -> str:
    """sha256 of JSON-able parts, in order."""
    text = json.dumps(list(parts), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_state(path: str | Path) -> tuple[int, int, int, int] | None:
    """What says a stored file is unchanged without reading it (as git's index does): size,
    inode, mtime and ctime in ns; ctime moves on any write, and no user can set it back."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class UnitKeys:
    inputs: str
    derived: tuple[str, ...]  # with the previous lineage given, and with its own read back
    errors: tuple[str, ...] = ()  # its lineage overrides' messages


@dataclass(slots=True)
class Memo:
    """Each unit's keys, and each table's rows with their unit (`UNIT` column)."""

    keys: dict[str, UnitKeys] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # dataset folder → (key of what its files are a function of, the build id published)
    published: dict[str, tuple[str, str]] = field(default_factory=dict)

    def merge(
        self,
        name: str,
        fresh: pd.DataFrame | None,
        order: Sequence[str],
        replaced: Iterable[str],
    ) -> pd.DataFrame:
        """A table (with its UNIT column): the memo's rows of the units in order but not
        replaced, and the fresh rows (None: no unit made again), the units in order, each
        unit's rows as they were. The memo's rows are in unit order already: they are cut
        into runs (slices, no copy), not sorted again."""
        rank = {unit: n for n, unit in enumerate(order)}
        gone = set(replaced)
        pieces: list[tuple[int, pd.DataFrame]] = []
        old = self.tables.get(name)
        if old is not None and len(old):
            ranks = np.array([-1 if u in gone else rank.get(u, -1) for u in old[UNIT]])
            kept = ranks[ranks >= 0]
            if (np.diff(kept) < 0).any():  # not in unit order: sort them (never saved so)
                old = old.iloc[np.argsort(ranks, kind="stable")]
                ranks = np.sort(ranks, kind="stable")
            edges = np.flatnonzero(np.diff(np.concatenate(([0], ranks >= 0, [0])).astype(int)))
            pieces += [
                (int(ranks[a]), old.iloc[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)
            ]
        if fresh is not None and len(fresh):
            ranks = np.array([rank[u] for u in fresh[UNIT]])
            if (np.diff(ranks) < 0).any():
                fresh = fresh.iloc[np.argsort(ranks, kind="stable")]
                ranks = np.sort(ranks, kind="stable")
            starts = np.flatnonzero(np.diff(ranks, prepend=-1))
            ends = [*starts[1:], len(ranks)]
            pieces += [(int(ranks[a]), fresh.iloc[a:b]) for a, b in zip(starts, ends, strict=True)]
        if not pieces:  # no rows: a frame of the right columns and dtypes
            empty = fresh if fresh is not None else old
            assert empty is not None, "merge needs rows or a frame to take columns from"
            return empty.iloc[:0]
        pieces.sort(key=lambda piece: piece[0])
        if len(pieces) == 1:
            return pieces[0][1].reset_index(drop=True)
        return pd.concat([piece for _, piece in pieces], ignore_index=True)


def load(folder: Path, names: Iterable[str]) -> Memo:
    """The memo in folder, or an empty one where any part is missing, damaged or of another
    format or code."""
    try:
        index_path = folder / INDEX
        if not index_path.is_file() or index_path.stat().st_size > MAX_INDEX_BYTES:
            return Memo()
        index = json.loads(index_path.read_bytes())
        if index.get("format") != FORMAT or index.get("code") != code_fingerprint():
            return Memo()
        tables = {}
        for name in names:
            entry = index["tables"][name]
            data = (folder / entry["file"]).read_bytes()
            if store.sha256_hex(data) != entry["sha256"]:
                return Memo()
            table = ipc.open_file(pa.BufferReader(data)).read_all()
            tables[name] = _with_dtypes(table.to_pandas(), entry["dtypes"])
        keys = {
            str(unit): UnitKeys(
                str(k["inputs"]),
                tuple(str(d) for d in k["derived"]),
                tuple(str(e) for e in k["errors"]),
            )
            for unit, k in index["units"].items()
        }
        published = {
            str(folder): (str(whole), str(build))
            for folder, (whole, build) in index.get("published", {}).items()
        }
        return Memo(keys, tables, published)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        return Memo()


def _with_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """The frame with the dtypes it was saved with: Arrow gives strings back as `str`, where
    some tables hold Python objects (None for a missing value)."""
    if list(frame.columns) != list(dtypes):
        raise ValueError("memo columns differ from its index")
    for column, dtype in dtypes.items():
        if str(frame[column].dtype) == dtype:
            continue
        values = frame[column]
        if dtype == "object":
            frame[column] = values.astype(object).where(values.notna(), None)
        else:
            frame[column] = values.astype(dtype)
    return frame


def save(folder: Path, memo: Memo) -> None:
    """Write memo into folder: new table files, the index naming them, then the old files go."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, frame in memo.tables.items():
        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        sha256 = store.sha256_hex(data)
        file = f"{name}-{sha256[:16]}.arrow"
        store.write_atomic(folder / file, data, sync=False)
        dtypes = {str(column): str(dtype) for column, dtype in frame.dtypes.items()}
        entries[name] = {"file": file, "sha256": sha256, "dtypes": dtypes}
    index = {
        "format": FORMAT,
        "code": code_fingerprint(),
        "units": {
            unit: {"inputs": k.inputs, "derived": list(k.derived), "errors": list(k.errors)}
            for unit, k in sorted(memo.keys.items())
        },
        "tables": entries,
        # the last few dataset folders built with this cache (tests build many)
        "published": dict(list(memo.published.items())[-MAX_PUBLISHED:]),
    }
    store.write_atomic(folder / INDEX, json.dumps(index, indent=1).encode(), sync=False)
    kept = {entry["file"] for entry in entries.values()} | {INDEX}
    for path in folder.iterdir():
        if path.name not in kept and path.is_file():
            with contextlib.suppress(OSError):  # a file left behind costs space only
                os.unlink(path)


PATH_TABLES = ("parse_report", "versions")  # rows named by a stored file; the others by policy


def tag(
    frame: pd.DataFrame, name: str, unit_of_path: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The frame with each row's unit: its stored file's, or its policy's ward."""
    if name in PATH_TABLES:
        unit = frame["path"].map(unit_of_path or {})
    else:
        unit = frame["policy_id"].map(ward_of)
    if unit.isna().any():
        raise ValueError(f"{name}: a row of no unit")  # a bug, not an input: never published
    return frame.assign(**{UNIT: unit.astype(object)})
