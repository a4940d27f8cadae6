"""Inputs for the report tests: the real dataset, and copies of it under other years."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from osaka_unei.dataset.load import load
from osaka_unei.report import coverage_frame
from osaka_unei.store import read_manifest

ROOT = Path(__file__).resolve().parents[1]
PROCESSED = ROOT / "data" / "processed"
REGISTRY = ROOT / "data" / "registry.csv"
RAW = ROOT / "data" / "raw"
NODE_TABLES = ("policies", "issues", "strategies", "initiatives")


DERIVED = ("lineage", "themes", "theme_codebook", "versions", "changes")
PROCESSED_TABLES = ("nodes",)  # recomputed by the report from the level tables when absent


def real_tables(derived: bool = False) -> dict[str, pd.DataFrame]:
    """The committed dataset's tables; the analysis tables only when asked for, so that the
    report is tested both with and without its optional sections."""
    tables = load(processed_dir=PROCESSED)
    assert isinstance(tables, dict)
    return tables if derived else {k: v for k, v in tables.items() if k not in DERIVED}


def registry() -> pd.DataFrame:
    return pd.read_csv(REGISTRY, dtype={"page_id": str})


def real_coverage(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return coverage_frame(registry(), read_manifest(RAW), tables["parse_report"])


def with_copy(
    tables: Mapping[str, pd.DataFrame], source_id: str, year: int, factor: int = 1
) -> dict[str, pd.DataFrame]:
    """The tables plus a copy of one policy under another fiscal year (budgets × factor)."""
    slug = source_id.rsplit("-", 1)[0]
    new_id = f"{slug}-{year}"
    out = dict(tables)
    for name in NODE_TABLES:
        frame = tables[name]
        copy = frame[frame["policy_id"] == source_id].copy()
        copy["policy_id"] = new_id
        copy["fiscal_year"] = pd.array([year] * len(copy), dtype="Int64")
        for column in ("budget_thousand_yen", "total_budget_thousand_yen"):
            if column in copy:
                copy[column] = copy[column] * factor
        out[name] = pd.concat([frame, copy], ignore_index=True)
    out.pop("nodes", None)  # the report derives it from the level tables (nodes_table)
    return out


def lineage_by_code(tables: Mapping[str, pd.DataFrame], slug: str) -> pd.DataFrame:
    """A lineage table for one ward's nodes: the same level and code across years is the
    same item (what the linker would find for copies of one page)."""
    from osaka_unei.report.nodes import report_nodes

    nodes = report_nodes(tables)
    nodes = nodes[nodes["policy_id"].str.startswith(slug + "-")]
    years = nodes["policy_id"].str.rsplit("-", n=1).str[1].astype(int)
    return pd.DataFrame(
        {
            "policy_id": nodes["policy_id"],
            "node_key": nodes["node_key"],
            "level": nodes["level"],
            "fiscal_year": years,
            "lineage_id": slug
            + "-"
            + nodes["level"]
            + "-"
            + nodes["code"].fillna(nodes["node_key"]),
        }
    ).reset_index(drop=True)
