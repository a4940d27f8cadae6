"""dataset.nodes: every issue, strategy and initiative as one frame, named as their tables
name them (node keys), in tree order. Values read off the committed 港区 R4 page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osaka_unei.dataset.load import load
from osaka_unei.dataset.nodes import NODE_FIELDS, nodes_frame

PROCESSED = Path(__file__).resolve().parents[1] / "data" / "processed"


def _minato() -> pd.DataFrame:
    tables = load(processed_dir=PROCESSED)
    assert isinstance(tables, dict)
    nodes = nodes_frame(tables)
    return nodes[nodes["policy_id"] == "minato-2022"]


def test_one_row_per_node_in_tree_order() -> None:
    nodes = _minato()
    assert list(nodes.columns) == NODE_FIELDS
    assert (len(nodes), *nodes["level"].value_counts()[["issue", "strategy", "initiative"]]) == (
        26,
        6,
        10,
        10,
    )
    # issue 1, its strategy 1-2 (printed first under issue 1), then its initiative 1-2-2
    first = nodes.head(3)[["level", "node_key", "code", "budget_thousand_yen"]]
    assert first.values.tolist() == [
        ["issue", "1", "1", pd.NA],
        ["strategy", "1.1", "1-2", pd.NA],
        ["initiative", "1.1.1", "1-2-2", 32550],
    ]


def test_node_keys_join_each_table() -> None:
    nodes = _minato()
    strategy = nodes[nodes["code"] == "2-1"].iloc[0]
    # a strategy is named as in `strategies`: issue_position + position
    assert (strategy["issue_position"], strategy["position"]) == (2, 1)
    assert pd.isna(strategy["strategy_position"])
    initiative = nodes[nodes["code"] == "2-1-1"].iloc[0]
    assert (initiative["strategy_position"], initiative["position"]) == (1, 1)
    assert initiative["title"] == "地域防災の活動支援"


def test_no_nodes_is_an_empty_frame() -> None:
    empty = {name: pd.DataFrame() for name in ("issues", "strategies", "initiatives")}
    assert list(nodes_frame(empty).columns) == NODE_FIELDS
    assert nodes_frame(empty).empty
