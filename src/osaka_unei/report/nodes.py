"""The report's one source of nodes and amounts: the published `nodes` table.

Every amount the report shows for an issue, strategy or initiative is the `nodes` table's
`thousand_yen` (the amount shown: printed, else the sum of the children's), with `printed`
saying which; totals by theme add `counted_thousand_yen` (each main amount once). Tables
given without `nodes` (a notebook's or a test's own frames) get it from the same function
the build uses, `dataset.nodes.nodes_table`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from osaka_unei.analysis.themes import CODEBOOK
from osaka_unei.dataset.nodes import LEVEL_JA, LEVELS, NODES, nodes_table

__all__ = ["LEVELS", "LEVEL_JA", "report_nodes"]


def report_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The `nodes` table (its published columns), from the tables if published there."""
    if "nodes" in tables:
        return tables["nodes"]
    if tables["issues"].empty:
        return pd.DataFrame(columns=NODES.names)
    empty = pd.DataFrame(columns=["policy_id", "node_key", "lineage_id", "theme", "goal"])
    with_sdgs = dict(tables)
    with_sdgs.setdefault("sdgs", empty)
    return nodes_table(
        with_sdgs,
        tables.get("lineage", empty),
        tables.get("themes", empty),
        [theme.id for theme in CODEBOOK],
    )
