"""The public data model: what one ward 運営方針 page says, and what the raw store records.

Field names here are a contract with users, notebooks and tests: add fields, never rename.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from osaka_unei.levels import LEVEL_JA, LEVELS, Level  # noqa: F401 (re-exported: defined there)

PARSER_VERSION = "1.0.0"


BudgetKind = Literal["budget", "estimate", "settled", "cm_budget"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Budget(_Model):
    """One amount as the page prints it, converted exactly to 千円."""

    label: str | None = Field(
        description="The label as printed ('29年度予算額', '予算額', '29年度区CM予算額'); "
        "null where the page gives only an amount."
    )
    fiscal_year: int | None = Field(description="Gregorian year the label names, if any.")
    amount_thousand_yen: int | None = Field(
        description="Amount in 千円; null where the page prints no amount ('-')."
    )
    raw: str = Field(description="The budget text as on the page (normalised).")
    kind: BudgetKind = Field(description="予算額 / 算定見込額 / 決算額 / 区CM予算額.")
    is_main: bool = Field(
        default=False, description="True for the amount chosen as budget_thousand_yen."
    )


class SdgGoal(_Model):
    """One SDGs goal a page names on a node, with the line that names it."""

    goal: int = Field(ge=1, le=17, description="SDGs goal number, 1–17.")
    raw: str = Field(description="The SDGs line as printed (normalised).")


class Initiative(_Model):
    """具体的取組."""

    code: str | None
    position: int
    title: str | None
    description: str | None = None
    budget_thousand_yen: int | None = None
    budgets: list[Budget] = Field(default_factory=list)
    sdg_goals: list[SdgGoal] = Field(
        default_factory=list, description="SDGs goals printed on this initiative."
    )


class Strategy(_Model):
    """戦略. A placeholder strategy (title null) holds initiatives whose strategy is missing."""

    code: str | None
    position: int
    title: str | None
    description: str | None = None
    budget_thousand_yen: int | None = None
    budgets: list[Budget] = Field(default_factory=list)
    sdg_goals: list[SdgGoal] = Field(
        default_factory=list, description="SDGs goals printed on this strategy."
    )
    initiatives: list[Initiative] = Field(default_factory=list)


class Issue(_Model):
    """経営課題."""

    code: str | None
    position: int
    title: str | None
    description: str | None = None
    budget_thousand_yen: int | None = None
    budgets: list[Budget] = Field(default_factory=list)
    sdgs: list[int] = Field(default_factory=list, description="SDGs goal numbers named.")
    sdg_goals: list[SdgGoal] = Field(
        default_factory=list,
        description="SDGs goals printed on this issue, with the line naming each (sdgs: "
        "their numbers).",
    )
    strategies: list[Strategy] = Field(default_factory=list)


class Reform(_Model):
    """An item of the 市政改革プラン section."""

    plan: str | None
    code: str | None
    title: str | None
    contents: list[str] = Field(default_factory=list)


class WardPolicy(_Model):
    """One ward's 運営方針 for one fiscal year, as one page states it."""

    title: str
    ward: str
    ward_slug: str
    fiscal_year: int
    fiscal_year_label: str
    draft: bool
    published: dt.date | None
    page_id: str | None
    url: str | None
    goal: str | None
    mission: str | None
    basic_policy: str | None
    issues: list[Issue] = Field(default_factory=list)
    reforms: list[Reform] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    source_format: Literal["html", "text"]
    source_sha256: str
    parser_version: str = PARSER_VERSION


def rolled_up_budget(node: Issue | Strategy | Initiative) -> int | None:
    """Main amounts under a node, each counted once: the node's own amount counts only
    where no descendant carries one. None where there is no amount at all."""
    children: list[Strategy] | list[Initiative] = []
    if isinstance(node, Issue):
        children = node.strategies
    elif isinstance(node, Strategy):
        children = node.initiatives
    carried = [amount for child in children if (amount := rolled_up_budget(child)) is not None]
    return sum(carried) if carried else node.budget_thousand_yen


def total_budget(policy: WardPolicy) -> int | None:
    """The policy's total_budget_thousand_yen: every main amount once (see above)."""
    per_issue = [
        amount for issue in policy.issues if (amount := rolled_up_budget(issue)) is not None
    ]
    return sum(per_issue) if per_issue else None


class RawRecord(_Model):
    """One line of data/raw/manifest.jsonl: one fetch attempt, or one stored capture."""

    url: str
    final_url: str | None = None
    status: int | None = None
    fetched_at: dt.datetime
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    size: int | None = None
    outcome: Literal[
        "fetched",  # new version stored
        "unchanged",  # 304, or a body whose sha256 is already stored
        "failed",  # network error, 4xx/5xx after retries, refused redirect, too large
        "incomplete",  # a body cut short: recorded (sha256, size), never stored nor used
        "disallowed",  # robots.txt says no
        "capture",  # a text capture added by hand, not fetched
    ]
    path: str | None = Field(
        default=None, description="Stored file, relative to the raw dir; null if none."
    )
    ward_slug: str | None = None
    fiscal_year: int | None = None
    page_id: str | None = None
    source_kind: Literal["fetched", "capture"] = "fetched"
    message: str | None = None
