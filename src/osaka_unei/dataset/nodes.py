"""The node model: every issue, strategy and initiative as one row, with its place in the
tree, its parent and the amount shown for it. Every stage after parse reads nodes from here.

- A node is named the way every node table names it (tables.NODE_COLUMNS): `policy_id` and
  `node_key`, its positions joined by dots (`2`, `2.1`, `2.1.3`); `parent_key` drops the last
  position (an issue has none).
- The amount shown (`thousand_yen`) is one rule, written once (`shown_amounts`): the node's
  printed main amount, else the sum of its children's shown amounts, else null; `printed`
  says which (true: printed on the page, false: summed from the children, null: none).
- `nodes_table` adds what the analysis stage derives (lineage, themes, SDGs) and is the
  published table `nodes`: the one frame a notebook needs, and what every surface (report,
  CLI, SQLite, Datasette) shows its numbers from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from osaka_unei.dataset.tables import NODE_COLUMNS, table_spec
from osaka_unei.models import LEVEL_JA, LEVELS, WardPolicy

__all__ = [
    "LEVELS",
    "LEVEL_JA",
    "NODES",
    "node_key",
    "node_pairs",
    "nodes_frame",
    "nodes_of",
    "nodes_table",
    "parent_key",
]

NODE_NAMES = [column.name for column in NODE_COLUMNS]
NODE_FIELDS = [
    *NODE_NAMES,
    "parent_key",
    "title",
    "description",
    "budget_thousand_yen",
    "thousand_yen",
    "printed",
    "counted_thousand_yen",
]
# level → (its table, the column holding its code, its position columns in node order)
_LEVEL_TABLES = {
    "issue": ("issues", "issue_code", ("issue_position",)),
    "strategy": ("strategies", "strategy_code", ("issue_position", "position")),
    "initiative": (
        "initiatives",
        "initiative_code",
        ("issue_position", "strategy_position", "position"),
    ),
}


def node_key(*positions: int) -> str:
    """A node's place in its policy as one text: (2,) → "2", (2, 1, 3) → "2.1.3"."""
    return ".".join(str(position) for position in positions)


def parent_key(key: str) -> str | None:
    """ "2.1.3" → "2.1", "2.1" → "2", "2" → None."""
    head, dot, _ = key.rpartition(".")
    return head if dot else None


def _key_order(key: str) -> tuple[int, ...]:
    return tuple(int(part) for part in key.split("."))


def shown_amounts(nodes: pd.DataFrame) -> pd.DataFrame:
    """`thousand_yen` and `printed` for a frame of nodes (policy_id, level, node_key,
    parent_key, budget_thousand_yen): the printed main amount, else the sum of the
    children's shown amounts (where at least one child has one), else null."""
    printed = nodes["budget_thousand_yen"].astype("Int64")
    # Python lists, a level at a time (the sums by parent in a dict: no frame per level)
    amounts: list[int | None] = [None if pd.isna(v) else int(v) for v in printed.tolist()]
    shown = list(amounts)
    policies = nodes["policy_id"].tolist()
    keys = nodes["node_key"].tolist()
    parents = nodes["parent_key"].tolist()
    levels = nodes["level"].tolist()
    for level in reversed(LEVELS[:-1]):  # strategies from their initiatives, then issues
        child = LEVELS[LEVELS.index(level) + 1]
        sums: dict[tuple[Any, Any], int] = {}
        for i, amount in enumerate(shown):
            if amount is not None and levels[i] == child and not pd.isna(parents[i]):
                key = (policies[i], parents[i])
                sums[key] = sums.get(key, 0) + amount
        for i, amount in enumerate(amounts):
            if amount is None and levels[i] == level:
                shown[i] = sums.get((policies[i], keys[i]))
    flag = pd.array(
        [
            True if a is not None else (False if s is not None else None)
            for a, s in zip(amounts, shown, strict=True)
        ],
        dtype="boolean",
    )
    return pd.DataFrame(
        {"thousand_yen": pd.array(shown, dtype="Int64"), "printed": flag}, index=nodes.index
    )


def counted_amounts(nodes: pd.DataFrame) -> pd.Series:
    """What each node adds to its policy's total, each main amount counted once: the printed
    amount of a node none of whose descendants prints one (else null). The rule of
    `policies.total_budget_thousand_yen` and of budgets by theme."""
    printed = nodes["budget_thousand_yen"].astype("Int64")
    below = pd.Series(False, index=nodes.index)  # a descendant prints an amount
    for level in reversed(LEVELS[:-1]):
        children = nodes["level"] == LEVELS[LEVELS.index(level) + 1]
        carrying = (printed.notna() | below)[children]
        # (zips of .tolist(): Python lists, not iterations over Arrow-backed columns)
        marked = set(
            zip(
                nodes.loc[children, "policy_id"][carrying].tolist(),
                nodes.loc[children, "parent_key"][carrying].tolist(),
                strict=True,
            )
        )
        here = nodes["level"] == level
        if here.any():
            below[here] = [
                key in marked
                for key in zip(
                    nodes.loc[here, "policy_id"].tolist(),
                    nodes.loc[here, "node_key"].tolist(),
                    strict=True,
                )
            ]
    return printed.where(~below).astype("Int64")


def policy_totals(nodes: pd.DataFrame) -> pd.Series:
    """policy_id → its total in 千円 (the counted amounts summed; null where none)."""
    counted = nodes.get("counted_thousand_yen")
    if counted is None:
        counted = counted_amounts(nodes)
    return counted.groupby(nodes["policy_id"], sort=True).sum(min_count=1).astype("Int64")


def _keys(table: pd.DataFrame, positions: Sequence[str]) -> list[str]:
    """Each row's node_key from its position columns (node_key of their values as ints)."""
    texts = [map(str, map(int, table[column].tolist())) for column in positions]
    return [".".join(parts) for parts in zip(*texts, strict=True)]


def node_pairs(tables: Mapping[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """(policy_id, node_key) of every node of issues, strategies and initiatives: the keys
    of nodes_frame, without its amounts (in table order)."""
    pairs: list[tuple[str, str]] = []
    for name, _, positions in _LEVEL_TABLES.values():
        table = tables[name]
        if not table.empty:
            pairs += zip(table["policy_id"].tolist(), _keys(table, positions), strict=True)
    return pairs


def nodes_frame(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """issues + strategies + initiatives → one row per node, in tree order per policy, with
    its parent and the amount shown."""
    frames = []
    for level, (name, code_column, positions) in _LEVEL_TABLES.items():
        table = tables[name]
        if table.empty:  # nothing at this level (a frame made by hand may have no columns)
            continue
        keys = _keys(table, positions)
        frame = pd.DataFrame(
            {
                "policy_id": table["policy_id"],
                "level": level,
                "node_key": keys,
                "issue_position": table["issue_position"],
                "strategy_position": table["strategy_position"] if level == "initiative" else pd.NA,
                "position": table["position"] if level != "issue" else pd.NA,
                "parent_key": [parent_key(key) for key in keys],
                "code": table[code_column],
                "title": table["title"],
                # optional, so that a hand-made frame of titles will do (tests, notebooks)
                "description": table.get("description", pd.NA),
                "budget_thousand_yen": table.get("budget_thousand_yen", pd.NA),
            }
        )
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=NODE_FIELDS)
    nodes = pd.concat(frames, ignore_index=True)
    for column in ("issue_position", "strategy_position", "position", "budget_thousand_yen"):
        nodes[column] = nodes[column].astype("Int64")
    order = pd.Series(
        [_key_order(key) for key in nodes["node_key"].tolist()], index=nodes.index, dtype=object
    )
    nodes = nodes.assign(_order=order).sort_values(["policy_id", "_order"], kind="stable")
    nodes = nodes.drop(columns="_order").reset_index(drop=True)
    nodes[["thousand_yen", "printed"]] = shown_amounts(nodes)
    nodes["counted_thousand_yen"] = counted_amounts(nodes)
    return nodes[NODE_FIELDS]


def tree_nodes(policies: Sequence[WardPolicy]) -> pd.DataFrame:
    """Parsed policies (not yet tables) → their nodes with the amounts shown and counted,
    `policy_id` being each policy's index in `policies` as text: the same rules for one
    page (`parse --format summary`) or every stored version (`versions`) as for the tables."""
    rows: list[tuple[Any, ...]] = []
    for number, policy in enumerate(policies):
        pid = str(number)
        for issue in policy.issues:
            rows.append((pid, "issue", node_key(issue.position), None, issue))
            for strategy in issue.strategies:
                skey = node_key(issue.position, strategy.position)
                rows.append((pid, "strategy", skey, node_key(issue.position), strategy))
                for initiative in strategy.initiatives:
                    ikey = node_key(issue.position, strategy.position, initiative.position)
                    rows.append((pid, "initiative", ikey, skey, initiative))
    nodes = pd.DataFrame(
        {
            "policy_id": [row[0] for row in rows],
            "level": [row[1] for row in rows],
            "node_key": [row[2] for row in rows],
            "parent_key": [row[3] for row in rows],
            "code": [row[4].code for row in rows],
            "title": [row[4].title for row in rows],
            "budget_thousand_yen": pd.array(
                [row[4].budget_thousand_yen for row in rows], dtype="Int64"
            ),
        }
    )
    nodes[["thousand_yen", "printed"]] = shown_amounts(nodes)
    nodes["counted_thousand_yen"] = counted_amounts(nodes)
    return nodes


def policy_total(policy: WardPolicy) -> int | None:
    """One parsed policy's total (the rule of policies.total_budget_thousand_yen)."""
    totals = policy_totals(tree_nodes([policy]))
    return None if totals.empty or pd.isna(totals.iloc[0]) else int(totals.iloc[0])


# --- the published table ------------------------------------------------------------------

NODES = table_spec("nodes")  # its columns: dataset/columns.toml


def _joined(frame: pd.DataFrame, column: str, order: Mapping[Any, int]) -> pd.Series:
    """(policy_id, node_key) → the column's distinct values joined by ';' in `order`."""
    if frame.empty:
        return pd.Series(dtype="string")
    pairs = frame[["policy_id", "node_key", column]].drop_duplicates()
    pairs = pairs.assign(_o=pairs[column].map(lambda v: order.get(v, len(order)))).sort_values(
        ["policy_id", "node_key", "_o"], kind="stable"
    )
    return pairs.groupby(["policy_id", "node_key"], sort=False)[column].agg(
        lambda values: ";".join(str(v) for v in values)
    )


def nodes_table(
    tables: Mapping[str, pd.DataFrame],
    lineage: pd.DataFrame,
    themes: pd.DataFrame,
    theme_order: list[str],
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The published `nodes` table: nodes_frame + ward and year, lineage, themes, SDGs.
    `frame`: the tables' nodes_frame, if the caller has it."""
    nodes = nodes_frame(tables) if frame is None else frame
    policies = tables["policies"][["policy_id", "ward", "ward_slug", "fiscal_year"]]
    nodes = nodes.merge(policies, on="policy_id", how="left", sort=False)
    keys = ["policy_id", "node_key"]
    if lineage.empty:
        nodes = nodes.assign(lineage_id=pd.NA)  # a new frame: `frame` is the caller's
    else:
        nodes = nodes.merge(lineage[[*keys, "lineage_id"]], on=keys, how="left", sort=False)
    parents = nodes[[*keys, "lineage_id"]].rename(
        columns={"node_key": "parent_key", "lineage_id": "parent_lineage_id"}
    )
    nodes = nodes.merge(parents, on=["policy_id", "parent_key"], how="left", sort=False)
    index = pd.MultiIndex.from_frame(nodes[keys])
    theme_rank = {theme: rank for rank, theme in enumerate(theme_order)}
    nodes["themes"] = _joined(themes, "theme", theme_rank).reindex(index).to_numpy()
    sdgs = tables["sdgs"]
    goals = {goal: goal for goal in range(1, 18)}
    nodes["sdgs"] = _joined(sdgs, "goal", goals).reindex(index).to_numpy()
    nodes["fiscal_year"] = nodes["fiscal_year"].astype("Int64")
    for column in ("lineage_id", "parent_lineage_id"):  # None, as the lineage table has it
        nodes[column] = nodes[column].astype(object).where(nodes[column].notna(), None)
    return nodes[NODES.names].reset_index(drop=True)


def nodes_of(tables: Mapping[str, pd.DataFrame], theme_order: Sequence[str] = ()) -> pd.DataFrame:
    """The `nodes` table of these tables: the published one where they hold it, else made
    by nodes_table from what they have (frames of a notebook or a test: without lineage,
    themes or SDGs those columns are empty)."""
    if NODES.name in tables:
        return tables[NODES.name]
    if tables["issues"].empty:
        return pd.DataFrame(columns=NODES.names)
    empty = pd.DataFrame(columns=["policy_id", "node_key", "lineage_id", "theme", "goal"])
    sources = dict(tables)
    sources.setdefault("sdgs", empty)
    return nodes_table(
        sources, tables.get("lineage", empty), tables.get("themes", empty), list(theme_order)
    )
