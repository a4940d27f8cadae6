"""Issues, strategies and initiatives as one table of nodes: what the search index covers.

One row per node with its level, its place in the tree (the same position columns as
`budgets`), its ward and year, and its text, so that a search hit needs no join to be shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.dataset.tables import Column, TableSpec

LEVELS = ("issue", "strategy", "initiative")
# Tables a node table is built from.
SOURCES = ("policies", "issues", "strategies", "initiatives")

NODES_SPEC = TableSpec(
    "nodes",
    "経営課題・戦略・具体的取組(検索用に1表にまとめたもの)",
    "issues, strategies and initiatives in one table (what full-text search covers)",
    (
        Column("node_id", "integer", "通し番号(検索索引の行番号)", "running number", required=True),
        Column(
            "level",
            "string",
            "階層",
            "level of the item",
            required=True,
            enum=LEVELS,
        ),
        Column("policy_id", "string", "運営方針ID", "policy id", required=True),
        Column("ward", "string", "区名", "ward name", required=True),
        Column("ward_slug", "string", "区のディレクトリ名", "ward slug", required=True),
        Column("fiscal_year", "integer", "年度(西暦)", "fiscal year", required=True),
        Column("code", "string", "番号(例: 1-2-3)", "code as printed, e.g. 1-2-3"),
        Column("issue_position", "integer", "経営課題の順番", "issue position", required=True),
        Column(
            "strategy_position",
            "integer",
            "戦略の順番(経営課題では空)",
            "strategy position (null for an issue)",
        ),
        Column(
            "initiative_position",
            "integer",
            "具体的取組の順番(取組以外では空)",
            "initiative position (null unless an initiative)",
        ),
        Column("title", "string", "名称", "title"),
        Column("description", "string", "説明", "description text"),
        Column(
            "budget_thousand_yen",
            "integer",
            "主な予算額(千円)",
            "main amount of the item, in thousand yen",
            unit="千円",
        ),
    ),
    ("node_id",),
)


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
