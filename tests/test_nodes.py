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


# --- the node model: parents and the amount shown ------------------------------------------


def _frame(rows: list[tuple[str, str, int | None]]) -> pd.DataFrame:
    """(level, node_key, printed amount) rows of one policy → the columns the rules read."""
    from osaka_unei.dataset.nodes import parent_key

    return pd.DataFrame(
        {
            "policy_id": "p",
            "level": [row[0] for row in rows],
            "node_key": [row[1] for row in rows],
            "parent_key": [parent_key(row[1]) for row in rows],
            "budget_thousand_yen": pd.array([row[2] for row in rows], dtype="Int64"),
        }
    )


def test_parent_key_drops_the_last_position() -> None:
    from osaka_unei.dataset.nodes import parent_key

    assert [parent_key(key) for key in ("2.1.13", "2.1", "12")] == ["2.1", "2", None]


def test_amount_shown_is_printed_else_the_sum_of_the_children() -> None:
    from osaka_unei.dataset.nodes import counted_amounts, shown_amounts

    nodes = _frame(
        [
            ("issue", "1", None),  # summed: 1.1 (printed 700) + 1.2 (summed 30)
            ("strategy", "1.1", 700),  # printed, although its initiatives print 400
            ("initiative", "1.1.1", 400),
            ("strategy", "1.2", None),
            ("initiative", "1.2.1", 30),
            ("initiative", "1.2.2", None),
            ("issue", "2", 5000),  # printed (百万円 on a 令和5年度+ issue)
            ("strategy", "2.1", None),  # nothing printed beneath: no amount, not 0
            ("initiative", "2.1.1", None),
        ]
    )
    shown = shown_amounts(nodes)
    assert shown["thousand_yen"].tolist() == [730, 700, 400, 30, 30, pd.NA, 5000, pd.NA, pd.NA]
    assert shown["printed"].tolist() == [False, True, True, False, True, pd.NA, True, pd.NA, pd.NA]
    # the total counts each amount once: 1.1's own 700 gives way to its initiative's 400
    counted = counted_amounts(nodes)
    assert counted.tolist() == [pd.NA, pd.NA, 400, pd.NA, 30, pd.NA, 5000, pd.NA, pd.NA]


def test_published_nodes_carry_lineage_themes_and_sdgs() -> None:
    tables = load(processed_dir=PROCESSED)
    assert isinstance(tables, dict)
    nodes = tables["nodes"].set_index(["policy_id", "node_key"])
    issue = nodes.loc[("minato-2022", "1")]
    # 港区 R4 issue 1 prints no amount: it shows its only initiative's 32,550, summed
    assert (issue["thousand_yen"], issue["printed"]) == (32550, False)
    assert pd.isna(issue["parent_key"])
    initiative = nodes.loc[("minato-2022", "3.2.1")]
    assert initiative["themes"] == "children;welfare;inclusion"  # codebook order
    assert initiative["parent_lineage_id"] == nodes.loc[("minato-2022", "3.2"), "lineage_id"]
    # every node of the level tables, once; the totals are the counted amounts summed
    assert len(nodes) == sum(len(tables[name]) for name in ("issues", "strategies", "initiatives"))
    totals = tables["nodes"].groupby("policy_id")["counted_thousand_yen"].sum(min_count=1)
    policies = tables["policies"].set_index("policy_id")["total_budget_thousand_yen"]
    assert totals.reindex(policies.index).astype("Int64").equals(policies.astype("Int64"))
    assert pd.isna(policies["kita-2019"])  # 北区 H31 prints no amounts: null, not 0


def test_tree_nodes_give_the_tables_totals() -> None:
    from osaka_unei.dataset.nodes import policy_total
    from osaka_unei.parse import parse_page

    seeds = sorted((Path(__file__).parent / "fixtures" / "seeds").glob("*.txt"))
    totals = [policy_total(parse_page(seed)) for seed in seeds]
    assert sorted(totals, key=lambda t: -1 if t is None else t) == [
        None,
        58693,
        65958,
        68388,
        135783,
    ]
