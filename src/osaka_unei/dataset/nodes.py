"""Every issue, strategy and initiative of the core tables as one frame of nodes, named
the way every node table names them (tables.NODE_COLUMNS): the shared input of the
lineage, the themes, the search index and the report."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from osaka_unei.dataset.flatten import node_key
from osaka_unei.dataset.tables import NODE_COLUMNS

NODE_NAMES = [column.name for column in NODE_COLUMNS]
NODE_FIELDS = [*NODE_NAMES, "title", "description", "budget_thousand_yen"]
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


def nodes_frame(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """issues + strategies + initiatives → one row per node, in tree order per policy."""
    frames = []
    for level, (name, code_column, positions) in _LEVEL_TABLES.items():
        table = tables[name]
        if table.empty:  # nothing at this level (a frame made by hand may have no columns)
            continue
        frame = pd.DataFrame(
            {
                "policy_id": table["policy_id"],
                "level": level,
                "node_key": [
                    node_key(*(int(value) for value in row))
                    for row in table[list(positions)].itertuples(index=False, name=None)
                ],
                "issue_position": table["issue_position"],
                "strategy_position": table["strategy_position"] if level == "initiative" else pd.NA,
                "position": table["position"] if level != "issue" else pd.NA,
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
    order = nodes["node_key"].map(lambda key: tuple(int(part) for part in key.split(".")))
    nodes = nodes.assign(_order=order).sort_values(["policy_id", "_order"], kind="stable")
    return nodes.drop(columns="_order").reset_index(drop=True)[NODE_FIELDS]
