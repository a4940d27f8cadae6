"""The report's one source of nodes and amounts: the published `nodes` table.

Every amount the report shows for an issue, strategy or initiative is the `nodes` table's
`thousand_yen` (the amount shown: printed, else the sum of the children's), with
`printed` saying which. Until the `nodes` table is published, `_standin_nodes` computes the
same columns from the level tables (to be deleted once `nodes` lands in main).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from osaka_unei.dataset.nodes import nodes_frame

LEVELS = ("issue", "strategy", "initiative")
LEVEL_JA = {"issue": "経営課題", "strategy": "戦略", "initiative": "具体的取組"}
NODE_COLUMNS = (
    "policy_id",
    "ward",
    "ward_slug",
    "fiscal_year",
    "level",
    "node_key",
    "parent_key",
    "issue_position",
    "strategy_position",
    "position",
    "code",
    "title",
    "description",
    "budget_thousand_yen",
    "thousand_yen",
    "printed",
    "lineage_id",
    "parent_lineage_id",
    "themes",
    "sdgs",
)


def report_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The `nodes` table (contract columns), from the tables if published there."""
    if "nodes" in tables:
        return tables["nodes"]
    return _standin_nodes(tables)


def _standin_nodes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The contract's `nodes` columns computed from issues/strategies/initiatives, lineage,
    themes and sdgs (a stand-in until the lead's `nodes` table is in main)."""
    frame = nodes_frame(tables)
    if frame.empty:
        return pd.DataFrame(columns=list(NODE_COLUMNS))
    policies = tables["policies"][["policy_id", "ward", "ward_slug", "fiscal_year"]]
    frame = frame.merge(policies, on="policy_id", how="left", sort=False)
    keys = list(zip(frame["policy_id"], frame["node_key"], strict=True))
    frame["parent_key"] = [k.rsplit(".", 1)[0] if "." in k else None for _, k in keys]
    printed_amount = {
        key: (None if pd.isna(v) else int(v))
        for key, v in zip(keys, frame["budget_thousand_yen"], strict=True)
    }
    children: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for (pid, key), parent in zip(keys, frame["parent_key"], strict=True):
        if parent is not None:
            children.setdefault((pid, parent), []).append((pid, key))
    shown: dict[tuple[str, str], int | None] = {}
    for key in sorted(keys, key=lambda k: -k[1].count(".")):  # deepest first
        own = printed_amount[key]
        if own is not None:
            shown[key] = own
            continue
        below = [shown[c] for c in children.get(key, []) if shown.get(c) is not None]
        shown[key] = sum(below) if below else None  # type: ignore[arg-type]
    frame["thousand_yen"] = pd.array([shown[k] for k in keys], dtype="Int64")
    frame["printed"] = pd.array(
        [None if shown[k] is None else printed_amount[k] is not None for k in keys],
        dtype="boolean",
    )
    lineage = tables.get("lineage")
    if lineage is not None and not lineage.empty:
        ids = dict(
            zip(
                zip(lineage["policy_id"], lineage["node_key"], strict=True),
                lineage["lineage_id"],
                strict=True,
            )
        )
        frame["lineage_id"] = [ids.get(k) for k in keys]
        frame["parent_lineage_id"] = [
            ids.get((pid, parent)) if parent else None
            for (pid, _), parent in zip(keys, frame["parent_key"], strict=True)
        ]
    else:
        frame["lineage_id"] = None
        frame["parent_lineage_id"] = None
    themes = tables.get("themes")
    codebook = tables.get("theme_codebook")
    frame["themes"] = None
    if themes is not None and not themes.empty and "node_key" in themes:
        order = (
            {t: n for n, t in enumerate(codebook["theme"])} if codebook is not None else {}
        )
        found: dict[tuple[str, str], set[str]] = {}
        for pid, key, theme in zip(themes["policy_id"], themes["node_key"], themes["theme"], strict=True):
            found.setdefault((pid, key), set()).add(theme)
        frame["themes"] = [
            ";".join(sorted(found[k], key=lambda t: (order.get(t, 99), t))) if k in found else None
            for k in keys
        ]
    sdgs = tables.get("sdgs")
    frame["sdgs"] = None
    if sdgs is not None and not sdgs.empty and "node_key" in sdgs:
        goals: dict[tuple[str, str], set[int]] = {}
        for pid, key, goal in zip(sdgs["policy_id"], sdgs["node_key"], sdgs["goal"], strict=True):
            goals.setdefault((pid, key), set()).add(int(goal))
        frame["sdgs"] = [
            ";".join(str(g) for g in sorted(goals[k])) if k in goals else None for k in keys
        ]
    return frame[list(NODE_COLUMNS)]
