"""Numbers the pages show, derived from the published tables (pure, no rendering).

Amounts are counted once, as `policies.total_budget_thousand_yen` counts them: every
initiative amount, and an amount on a strategy or an issue only where nothing beneath it
carries one. A node that prints no amount of its own shows the sum of what is counted
beneath it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Key = tuple[Any, ...]  # (policy_id, level, position numbers…)


def fmt_amount(value: Any, unit: str = "千円") -> str:
    """32550 → '32,550千円'; a missing amount is a dash, never 0."""
    if value is None or pd.isna(value):
        return "—"
    return f"{int(value):,}{unit}"


def fmt_count(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def node_key(
    policy_id: str,
    level: str | float | None,  # a float: NaN from a frame
    issue_position: Any,
    strategy_position: Any = None,
    position: Any = None,
) -> Key:
    """The key of an issue, strategy or initiative, whatever columns a table fills.

    Without a level, the filled positions say which: three → initiative, two → strategy.
    A strategy's own position may come as `position` or as `strategy_position`."""
    issue, strategy, own = _int(issue_position), _int(strategy_position), _int(position)
    if level is None or (isinstance(level, float) and pd.isna(level)):
        level = (
            "initiative"
            if strategy is not None and own is not None
            else "strategy"
            if own is not None or strategy is not None
            else "issue"
        )
    if level == "issue":
        return (policy_id, "issue", issue)
    if level == "strategy":
        return (policy_id, "strategy", issue, own if own is not None else strategy)
    return (policy_id, "initiative", issue, strategy, own)


def _parent(key: Key) -> Key | None:
    if key[1] == "initiative":
        return (key[0], "strategy", key[2], key[3])
    if key[1] == "strategy":
        return (key[0], "issue", key[2])
    return None


def ancestry(key: Key) -> list[Key]:
    """The key itself, then its strategy, then its issue."""
    chain: list[Key] = []
    current: Key | None = key
    while current is not None:
        chain.append(current)
        current = _parent(current)
    return chain


@dataclass(slots=True)
class Node:
    key: Key
    code: str
    title: str
    own: int | None  # the amount printed on the node itself
    counted: int | None = None  # what is counted at or beneath it (None: nothing)
    children: list[Node] = field(default_factory=list)

    @property
    def level(self) -> str:
        return str(self.key[1])

    @property
    def shown(self) -> int | None:
        return self.own if self.own is not None else self.counted

    @property
    def derived(self) -> bool:
        """The shown amount is a sum of the items beneath, not printed on the node."""
        return self.own is None and self.counted is not None


def _nodes(tables: Mapping[str, pd.DataFrame]) -> dict[str, list[Node]]:
    """policy_id → its issues, each with strategies and initiatives, in page order."""
    issues = tables["issues"].sort_values(["policy_id", "issue_position"])
    strategies = tables["strategies"].sort_values(["policy_id", "issue_position", "position"])
    initiatives = tables["initiatives"].sort_values(
        ["policy_id", "issue_position", "strategy_position", "position"]
    )
    by_key: dict[Key, Node] = {}
    roots: dict[str, list[Node]] = {}
    for row in issues.itertuples(index=False):
        node = Node(
            node_key(row.policy_id, "issue", row.issue_position),
            str(row.issue_code or ""),
            str(row.title or ""),
            _int(row.budget_thousand_yen),
        )
        by_key[node.key] = node
        roots.setdefault(row.policy_id, []).append(node)
    for frame, level in ((strategies, "strategy"), (initiatives, "initiative")):
        for row in frame.itertuples(index=False):
            key = node_key(
                row.policy_id,
                level,
                row.issue_position,
                getattr(row, "strategy_position", None),
                row.position,
            )
            code = row.strategy_code if level == "strategy" else row.initiative_code
            node = Node(key, str(code or ""), str(row.title or ""), _int(row.budget_thousand_yen))
            by_key[key] = node
            parent = _parent(key)
            if parent in by_key:
                by_key[parent].children.append(node)
    for nodes in roots.values():
        for node in nodes:
            _count(node)
    return roots


def _count(node: Node) -> int | None:
    """Fill `counted` bottom-up: children's counted amounts, else the node's own."""
    below = [amount for child in node.children if (amount := _count(child)) is not None]
    node.counted = sum(below) if below else node.own
    return node.counted


@dataclass(slots=True)
class Figures:
    """Everything the pages need, computed once from the tables."""

    trees: dict[str, list[Node]]
    nodes: dict[Key, Node]

    @classmethod
    def of(cls, tables: Mapping[str, pd.DataFrame]) -> Figures:
        trees = _nodes(tables)
        nodes: dict[Key, Node] = {}
        stack = [node for roots in trees.values() for node in roots]
        while stack:
            node = stack.pop()
            nodes[node.key] = node
            stack.extend(node.children)
        return cls(trees, nodes)

    def counted_items(self) -> list[Node]:
        """Nodes whose own amount counts toward the total (see module docstring)."""
        return [
            node
            for node in self.nodes.values()
            if node.own is not None and not any(c.counted is not None for c in node.children)
        ]


def theme_budgets(
    figures: Figures, themes: pd.DataFrame, fiscal_years: Mapping[str, int]
) -> pd.DataFrame:
    """theme × fiscal_year → summed budget (千円) and number of counted items.

    An item takes the themes of its own node, else of its strategy, else of its issue; an
    item with several themes counts in each (so theme totals may add up to more than the
    budget)."""
    by_node: dict[Key, list[str]] = {}
    for row in themes.itertuples(index=False):
        key = node_key(
            row.policy_id,
            getattr(row, "level", None),
            getattr(row, "issue_position", None),
            getattr(row, "strategy_position", None),
            getattr(row, "position", None),
        )
        theme = row.theme
        if isinstance(theme, str) and theme and theme not in by_node.get(key, []):
            by_node.setdefault(key, []).append(theme)
    rows = []
    for item in figures.counted_items():
        found = next((by_node[k] for k in ancestry(item.key) if k in by_node), [])
        for theme in found:
            year = fiscal_years.get(item.key[0])
            if year is not None:
                rows.append({"theme": theme, "fiscal_year": year, "budget": item.own, "items": 1})
    frame = pd.DataFrame(rows, columns=["theme", "fiscal_year", "budget", "items"])
    if frame.empty:
        return frame
    return (
        frame.groupby(["theme", "fiscal_year"], as_index=False)[["budget", "items"]]
        .sum()
        .sort_values(["theme", "fiscal_year"], ignore_index=True)
    )


@dataclass(frozen=True, slots=True)
class Lineage:
    lineage_id: str
    ward_slug: str
    title: str
    level: str
    series: pd.DataFrame  # fiscal_year, budget


def lineages(
    figures: Figures, lineage: pd.DataFrame, ward_of: Mapping[str, str], min_years: int = 2
) -> list[Lineage]:
    """Items followed across years with an amount in at least `min_years` years."""
    found: list[Lineage] = []
    frame = lineage.sort_values(["lineage_id", "fiscal_year"], kind="stable")
    for lineage_id, group in frame.groupby("lineage_id", sort=True):
        points: dict[int, int] = {}
        latest: Node | None = None
        ward = None
        for row in group.itertuples(index=False):
            key = node_key(
                row.policy_id,
                getattr(row, "level", None),
                row.issue_position,
                getattr(row, "strategy_position", None),
                getattr(row, "position", None),
            )
            node = figures.nodes.get(key)
            if node is None:
                continue
            latest, ward = node, ward_of.get(row.policy_id, ward)
            if node.shown is not None and not pd.isna(row.fiscal_year):
                year = int(row.fiscal_year)
                points[year] = points.get(year, 0) + node.shown
        if latest is None or ward is None or len(points) < min_years:
            continue
        series = pd.DataFrame(
            {"fiscal_year": sorted(points), "budget": [points[y] for y in sorted(points)]}
        )
        found.append(Lineage(str(lineage_id), ward, latest.title, latest.level, series))
    return found
