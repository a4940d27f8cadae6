"""Time `write_database` on the current data and on the data replicated to ~N policies.

    PYTHONPATH=src .venv/bin/python bench/db_build.py [--copies 200]

Replication gives every copy new policy ids (`{policy_id}-c{k}`), so keys stay unique and
the search index grows like a real corpus of that many pages (the same texts repeated).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd

from osaka_unei.dataset.load import load
from osaka_unei.dataset.tables import TABLES
from osaka_unei.db import search, write_database

ROOT = Path(__file__).resolve().parents[1]


def replicate(tables: dict[str, pd.DataFrame], copies: int) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in tables.items():
        if "policy_id" not in frame.columns:
            out[name] = frame
            continue
        parts = [frame.assign(policy_id=frame["policy_id"] + f"-c{k:04d}") for k in range(copies)]
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def timed(tables: dict[str, pd.DataFrame], folder: Path, label: str) -> Path:
    path = folder / f"{label}.db"
    start = time.perf_counter()
    write_database(path, tables, TABLES)
    seconds = time.perf_counter() - start
    conn = sqlite3.connect(path)
    nodes = conn.execute("SELECT count(*) FROM nodes").fetchone()[0]
    conn.close()
    start = time.perf_counter()
    hits = search(path, "防災", limit=1000)
    query = time.perf_counter() - start
    print(
        f"{label}: {len(tables['policies'])} policies, {nodes} nodes: write {seconds:.2f} s, "
        f"{path.stat().st_size / 1e6:.2f} MB; search 防災 {len(hits)} hits in {query * 1e3:.1f} ms"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=200)
    args = parser.parse_args()
    tables = load(processed_dir=ROOT / "data" / "processed")
    assert isinstance(tables, dict)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed(tables, folder, "current")
        timed(replicate(tables, args.copies), folder, f"x{args.copies}")


if __name__ == "__main__":
    main()
