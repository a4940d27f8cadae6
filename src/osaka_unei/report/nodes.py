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
from osaka_unei.dataset.nodes import LEVEL_JA, LEVELS, nodes_of

__all__ = ["LEVELS", "LEVEL_JA", "report_nodes"]


def report_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The `nodes` table (its published columns), from the tables if published there."""
    return nodes_of(tables, [theme.id for theme in CODEBOOK])
