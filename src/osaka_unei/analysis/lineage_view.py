"""`osaka-unei history WARD [QUERY]`: a ward's lineages as a table, budgets by year.

One row per lineage (an item followed across years), in the tree order of its latest node;
one column per fiscal year of the ward. A cell is the item's main amount that year in 千円,
"—" when the page gives it no amount, and empty when the item is not on that year's page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

from osaka_unei.analysis.lineage import LEVELS, normalize_title
from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.errors import BadInputError
from osaka_unei.wards import SLUG_WARDS, WARD_SLUGS

NO_AMOUNT = "—"
LEVEL_LABELS = {"issue": "経営課題", "strategy": "戦略", "initiative": "取組"}


def ward_slug(ward: str) -> str:
    """港区, 港 or minato → minato; ValueError for anything else."""
    if ward in SLUG_WARDS:
        return ward
    for name in (ward, f"{ward}区"):
        if name in WARD_SLUGS:
            return WARD_SLUGS[name]
    raise BadInputError(f"unknown ward {ward!r}")


def _budgets(tables: dict[str, pd.DataFrame]) -> dict[tuple[str, str], int | None]:
    """(policy_id, node_key) → main amount."""
    nodes = nodes_frame(tables)
    return {
        (pid, key): None if pd.isna(amount) else int(amount)
        for pid, key, amount in nodes[["policy_id", "node_key", "budget_thousand_yen"]].itertuples(
            index=False, name=None
        )
    }


def _int_or_none(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def render_history(
    lineage: pd.DataFrame,
    issues: pd.DataFrame,
    strategies: pd.DataFrame,
    initiatives: pd.DataFrame,
    ward: str,
    query: str | None = None,
) -> Table:
    """The ward's lineages with any title containing `query` (compared without brackets,
    punctuation and spaces, after NFKC), budgets by year. ValueError for an unknown ward."""
    slug = ward_slug(ward)
    rows = lineage[lineage["ward_slug"] == slug]
    years = sorted({int(y) for y in rows["fiscal_year"]})
    budgets = _budgets({"issues": issues, "strategies": strategies, "initiatives": initiatives})
    needle = normalize_title(query) if query else ""

    table = Table(
        title=f"{SLUG_WARDS[slug]} ({slug})" + (f" — {query}" if query else ""),
        caption=f"千円; {NO_AMOUNT} no amount on the page; blank: not on that year's page",
    )
    table.add_column("level")
    table.add_column("title")
    for year in years:
        table.add_column(str(year), justify="right")
    table.add_column("lineage_id", style="dim")

    lines = []
    for lineage_id, group in rows.groupby("lineage_id", sort=False):
        records = sorted(group.to_dict("records"), key=lambda r: int(r["fiscal_year"]))
        if needle and not any(needle in normalize_title(r["title"]) for r in records):
            continue
        latest = records[-1]
        cells = {}
        for r in records:
            amount = budgets.get((r["policy_id"], r["node_key"]))
            cells[int(r["fiscal_year"])] = NO_AMOUNT if amount is None else f"{amount:,}"
        order = (
            -int(latest["fiscal_year"]),
            tuple(int(part) for part in latest["node_key"].split(".")),
        )
        depth = LEVELS.index(latest["level"])
        title = "  " * depth + (latest["title"] or "(戦略なし)")
        lines.append(
            (
                order,
                [LEVEL_LABELS[latest["level"]], title]
                + [cells.get(year, "") for year in years]
                + [str(lineage_id)],
            )
        )
    for _, cells_row in sorted(lines, key=lambda line: line[0]):
        table.add_row(*cells_row)
    return table
