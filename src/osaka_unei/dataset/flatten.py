"""Flattening: one WardPolicy → the rows it contributes to every table, and rows → frames."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from osaka_unei.dataset.nodes import node_key, nodes_frame, policy_totals
from osaka_unei.dataset.tables import COUNTED_TABLES, TABLES, TableSpec
from osaka_unei.models import (
    Budget,
    Initiative,
    Issue,
    Strategy,
    WardPolicy,
)
from osaka_unei.wards import WARD_CODES

Row = dict[str, Any]


# --- flattening: one WardPolicy → rows of every table ------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a policy's bytes came from, as the manifest records it."""

    url: str | None
    source_kind: Literal["fetched", "capture"]
    sha256: str
    fetched_at: dt.datetime


def policy_id(ward_slug: str, fiscal_year: int) -> str:
    return f"{ward_slug}-{fiscal_year}"


def ward_of(policy_id: str) -> str:
    """The ward slug of a policy_id (slugs have no hyphen)."""
    return str(policy_id).rsplit("-", 1)[0]


def flatten(policy: WardPolicy, source: Source) -> dict[str, list[Row]]:
    """All rows one policy contributes, by table (parse_report excluded)."""
    pid = policy_id(policy.ward_slug, policy.fiscal_year)
    base = {"policy_id": pid, "ward": policy.ward, "fiscal_year": policy.fiscal_year}
    rows: dict[str, list[Row]] = {name: [] for name in COUNTED_TABLES}

    def add_budgets(
        budgets: list[Budget], level: str, code: str | None, positions: tuple[int, ...]
    ) -> None:
        for budget in budgets:
            rows["budgets"].append(
                {
                    "policy_id": pid,
                    "level": level,
                    "code": code,
                    "label": budget.label,
                    # a label naming no year speaks of the page's own year
                    "fiscal_year": budget.fiscal_year or policy.fiscal_year,
                    "amount_thousand_yen": budget.amount_thousand_yen,
                    "is_main": budget.is_main,
                    "raw": budget.raw,
                    "kind": budget.kind,
                    "budget_no": len(rows["budgets"]) + 1,
                    "issue_position": positions[0],
                    "strategy_position": positions[1] if len(positions) > 1 else None,
                    "initiative_position": positions[2] if len(positions) > 2 else None,
                }
            )

    def add_sdgs(node: Issue | Strategy | Initiative, level: str, *positions: int) -> None:
        issue_position, strategy_position, position = (*positions, None, None)[:3]
        if level == "strategy":  # a strategy is named by issue_position + position
            strategy_position, position = None, strategy_position
        for goal in node.sdg_goals:
            rows["sdgs"].append(
                {
                    "policy_id": pid,
                    "level": level,
                    "node_key": node_key(*positions),
                    "issue_position": issue_position,
                    "strategy_position": strategy_position,
                    "position": position,
                    "code": node.code,
                    "goal": goal.goal,
                    "raw": goal.raw,
                }
            )

    for issue in policy.issues:
        add_sdgs(issue, "issue", issue.position)
        rows["issues"].append(
            base
            | {
                "issue_code": issue.code,
                "title": issue.title,
                "description": issue.description,
                "budget_thousand_yen": issue.budget_thousand_yen,
                "issue_position": issue.position,
            }
        )
        add_budgets(issue.budgets, "issue", issue.code, (issue.position,))
        for strategy in issue.strategies:
            add_sdgs(strategy, "strategy", issue.position, strategy.position)
            rows["strategies"].append(
                base
                | {
                    "issue_code": issue.code,
                    "strategy_code": strategy.code,
                    "position": strategy.position,
                    "title": strategy.title,
                    "description": strategy.description,
                    "budget_thousand_yen": strategy.budget_thousand_yen,
                    "issue_position": issue.position,
                }
            )
            add_budgets(
                strategy.budgets, "strategy", strategy.code, (issue.position, strategy.position)
            )
            for initiative in strategy.initiatives:
                add_sdgs(
                    initiative, "initiative", issue.position, strategy.position, initiative.position
                )
                amount = initiative.budget_thousand_yen
                rows["initiatives"].append(
                    base
                    | {
                        "issue_code": issue.code,
                        "strategy_code": strategy.code,
                        "initiative_code": initiative.code,
                        "position": initiative.position,
                        "title": initiative.title,
                        "description": initiative.description,
                        "budget_thousand_yen": amount,
                        "budget_yen": None if amount is None else amount * 1000,
                        "issue_position": issue.position,
                        "strategy_position": strategy.position,
                    }
                )
                add_budgets(
                    initiative.budgets,
                    "initiative",
                    initiative.code,
                    (issue.position, strategy.position, initiative.position),
                )
    for position, reform in enumerate(policy.reforms, start=1):
        rows["reforms"].append(
            {
                "policy_id": pid,
                "plan": reform.plan,
                "code": reform.code,
                "title": reform.title,
                "contents": "\n".join(reform.contents) if reform.contents else None,
                "position": position,
            }
        )
    rows["policies"].append(
        {
            "policy_id": pid,
            "ward": policy.ward,
            "ward_slug": policy.ward_slug,
            "ward_code": WARD_CODES[policy.ward_slug],
            "fiscal_year": policy.fiscal_year,
            "fiscal_year_label": policy.fiscal_year_label,
            "draft": policy.draft,
            "title": policy.title,
            "published": policy.published,
            "page_id": policy.page_id,
            "url": policy.url or source.url,
            "goal": policy.goal,
            "mission": policy.mission,
            "basic_policy": policy.basic_policy,
            "n_issues": len(rows["issues"]),
            "n_strategies": len(rows["strategies"]),
            "n_initiatives": len(rows["initiatives"]),
            "total_budget_thousand_yen": None,  # make_tables: from the node model
            "source_kind": source.source_kind,
            "source_sha256": source.sha256,
            "fetched_at": as_utc(source.fetched_at),
            "parser_version": policy.parser_version,
        }
    )
    return rows


def as_utc(moment: dt.datetime) -> dt.datetime:
    # The manifest writes aware times; a naive one can only have meant UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _sort_key(spec: TableSpec) -> Callable[[Row], tuple[Any, ...]]:
    return lambda row: tuple(row[name] for name in spec.key)


def make_frame(spec: TableSpec, rows: Iterable[Row]) -> pd.DataFrame:
    """Rows → a DataFrame with the table's exact columns and dtypes, sorted by its key."""
    ordered = sorted(rows, key=_sort_key(spec))
    return rows_frame(spec, ordered)


def rows_frame(spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows, in the order given → a DataFrame with the table's exact columns and dtypes."""
    rows = rows if isinstance(rows, list) else list(rows)
    # column by column (no dict per row); a name a row lacks is null
    table = pa.Table.from_pydict(
        {name: [row.get(name) for row in rows] for name in spec.names}, schema=spec.schema
    )
    # Int64 keeps nullable integers integers; dates stay datetime.date objects.
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def make_tables(
    flattened: Iterable[Mapping[str, list[Row]]], report: Iterable[Row]
) -> dict[str, pd.DataFrame]:
    collected: dict[str, list[Row]] = {name: [] for name in COUNTED_TABLES}
    for rows in flattened:
        for name, table_rows in rows.items():
            collected[name].extend(table_rows)
    collected["parse_report"] = list(report)
    tables = {spec.name: make_frame(spec, collected[spec.name]) for spec in TABLES}
    policies = tables["policies"]
    totals = policy_totals(nodes_frame(tables))
    policies["total_budget_thousand_yen"] = (
        policies["policy_id"].map(totals).astype("Int64") if len(totals) else pd.NA
    )
    policies["total_budget_thousand_yen"] = policies["total_budget_thousand_yen"].astype("Int64")
    return tables
