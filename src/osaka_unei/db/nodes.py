"""The database's `nodes` table: the published node table (dataset.nodes.NODES) with a
running `node_id`, the rowid the full-text index (`nodes_fts`) points at.

A search hit, a Datasette row and the report read the same row: the amount shown
(`thousand_yen`, `printed`) comes from dataset.nodes, never from a query of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from osaka_unei.dataset.nodes import NODES, nodes_of
from osaka_unei.dataset.tables import Column, TableSpec

# Tables the node table can be made from when a caller gives no `nodes` frame.
SOURCES = ("policies", "issues", "strategies", "initiatives")

NODES_SPEC = TableSpec(
    NODES.name,
    NODES.ja,
    NODES.en,
    (
        Column("node_id", "integer", "通し番号(検索索引の行番号)", "running number", required=True),
        *NODES.columns,
    ),
    ("node_id",),
)


def has_sources(names: Collection[str]) -> bool:
    """Whether the node table can be built from tables of these names."""
    return all(name in names for name in SOURCES)


def make_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The node table in tree order (policy, issue, strategy, initiative), node_id from 1:
    the build's `nodes` frame, or one made from the tables given (dataset.nodes.nodes_of)."""
    nodes = nodes_of(tables).reset_index(drop=True)
    nodes.insert(0, "node_id", pd.array(range(1, len(nodes) + 1), dtype="Int64"))
    return nodes[NODES_SPEC.names]
