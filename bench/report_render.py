"""Time `render_site` on the real dataset and on a full-size one (24 wards × 14 years).

The full-size dataset copies the five real policies round-robin into every ward and fiscal
year (budgets scaled a little, so charts differ), with a `lineage` table that follows each
initiative code through a ward's years. Run from the repository root:

    PYTHONPATH=src python bench/report_render.py
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.report_data import NODE_TABLES, real_coverage, real_tables

from osaka_unei.report import render_site
from osaka_unei.wards import WARD_SLUGS

BUILT = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def full_size(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    sources = sorted(tables["policies"]["policy_id"])
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in NODE_TABLES}
    n = 0
    for ward, slug in WARD_SLUGS.items():
        for year in range(2013, 2027):
            source = sources[n % len(sources)]
            n += 1
            for name in NODE_TABLES:
                frame = tables[name]
                copy = frame[frame["policy_id"] == source].copy()
                copy["policy_id"] = f"{slug}-{year}"
                copy["fiscal_year"] = pd.array([year] * len(copy), dtype="Int64")
                copy["ward"] = ward
                if name == "policies":
                    copy["ward_slug"] = slug
                for column in ("budget_thousand_yen", "total_budget_thousand_yen"):
                    if column in copy:
                        copy[column] = copy[column] * (100 + year - 2013) // 100
                parts[name].append(copy)
    out = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    initiatives = out["initiatives"]
    out["lineage"] = initiatives[
        ["policy_id", "issue_position", "strategy_position", "position", "fiscal_year"]
    ].assign(
        lineage_id=initiatives["policy_id"].str.rsplit("-", n=1).str[0]
        + "-"
        + initiatives["initiative_code"],
        level="initiative",
    )
    return out


def timed(tables: dict[str, pd.DataFrame], coverage: pd.DataFrame) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        written = render_site(tables, coverage, BUILT, Path(folder))
        seconds = time.perf_counter() - start
        size = sum(path.stat().st_size for path in written)
    return seconds, len(written), size


def main() -> None:
    tables = real_tables()
    coverage = real_coverage(tables)
    timed(tables, coverage)  # warm-up: vl-convert's first call starts its engine
    seconds, files, size = timed(tables, coverage)
    print(
        f"real data: {len(tables['policies'])} policies, {files} files, {size:,} bytes, {seconds:.2f} s"
    )
    big = full_size(tables)
    seconds, files, size = timed(big, coverage)
    print(
        f"full size: {len(big['policies'])} policies, {big['lineage']['lineage_id'].nunique()} "
        f"lineages, {files} files, {size:,} bytes, {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
