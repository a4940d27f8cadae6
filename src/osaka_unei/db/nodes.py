"""Issues, strategies and initiatives as one table of nodes: what the search index covers.

One row per node with its level, its place in the tree (the same position columns as
`budgets`), its ward and year, and its text, so that a search hit needs no join to be shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.dataset.tables import table_spec

LEVELS = ("issue", "strategy", "initiative")
# Tables a node table is built from.
SOURCES = ("policies", "issues", "strategies", "initiatives")

NODES_SPEC = table_spec("nodes")  # its columns: dataset/columns.toml


def has_sources(names: Collection[str]) -> bool:
    """Whether the node table can be built from tables of these names."""
    return all(name in names for name in SOURCES)


def make_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The node table in tree order (policy, issue, strategy, initiative), node_id from 1.

    Its position columns name each level's own position (strategy_position of a strategy,
    initiative_position of an initiative), so that the database's foreign keys from nodes
    to strategies and initiatives are plain column pairs."""
    nodes = nodes_frame(tables)
    strategy = nodes["level"] == "strategy"
    initiative = nodes["level"] == "initiative"
    nodes = nodes.assign(
        strategy_position=nodes["strategy_position"].mask(strategy, nodes["position"]),
        initiative_position=nodes["position"].where(initiative),
    )
    policies = tables["policies"][["policy_id", "ward", "ward_slug", "fiscal_year"]]
    nodes = nodes.merge(policies, on="policy_id", how="left", sort=False)
    for name in ("fiscal_year", "strategy_position", "initiative_position"):
        nodes[name] = nodes[name].astype("Int64")
    nodes.insert(0, "node_id", pd.array(range(1, len(nodes) + 1), dtype="Int64"))
    return nodes[NODES_SPEC.names]
