"""The readable tree of one parsed policy: `osaka-unei parse --format summary`.

Amounts follow the node model: the amount shown is the printed main amount, else the sum
of the items below, marked `(計)`; `—` where there is none. The total is the policy's
total (`policies.total_budget_thousand_yen`: each main amount once), `—` where the page
prints no amount. Linear in the page's size: a title is cut in one pass, whatever its
length.
"""

from __future__ import annotations

import unicodedata

from osaka_unei.amounts import amount_text
from osaka_unei.dataset.nodes import node_key, policy_total, tree_nodes
from osaka_unei.models import Initiative, Issue, Strategy, WardPolicy
from osaka_unei.views.text import LEVEL_JA, NO_AMOUNT, SUMMED, UNIT

WIDTH = 64  # display columns of the label before the amount
_FIRST_LINE = 60  # characters of 目標 / 使命 / 方針 shown


def _char_width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def fit(text: str, width: int) -> str:
    """`text` padded to `width` display columns (a Japanese character takes two), or cut
    with `…` where it is wider: two passes over the characters, whatever the length."""
    widths = [_char_width(char) for char in text]
    total = sum(widths)
    if total <= width:
        return text + " " * (width - total)
    used = 0
    for keep, w in enumerate(widths):
        if used + w > width - 1:  # no room left for this character and the `…`
            return text[:keep] + "…" + " " * (width - 1 - used)
        used += w
    raise AssertionError("unreachable: the text is wider than width")


Node = Issue | Strategy | Initiative
Shown = tuple[int | None, bool | None]


def shown_amounts(policy: WardPolicy) -> dict[str, Shown]:
    """node_key → (amount shown, printed), by the node model's one rule (tree_nodes)."""
    nodes = tree_nodes([policy])[["node_key", "thousand_yen", "printed"]]
    cells = nodes.astype(object).where(nodes.notna(), None)
    return {
        key: (None, None) if amount is None else (int(amount), bool(printed))
        for key, amount, printed in cells.itertuples(index=False, name=None)
    }


def _amount(shown: Shown) -> str:
    value, printed = shown
    if value is None:
        return f"{NO_AMOUNT:>10}"
    return f"{value:>10,} {UNIT}" + ("" if printed else f" {SUMMED}")


def _label(*parts: str | None) -> str:
    """Parts joined by one space, the empty ones left out."""
    return " ".join(part for part in parts if part)


def render_summary(policy: WardPolicy) -> str:
    """A readable tree with the amounts shown and the policy's total."""
    lines = [
        policy.title,
        f"  {policy.ward} ({policy.ward_slug}), fiscal year {policy.fiscal_year}"
        f" ({policy.fiscal_year_label}){', draft' if policy.draft else ''}"
        f"; page {policy.page_id or NO_AMOUNT}, published {policy.published or NO_AMOUNT}",
    ]
    for name, value in (
        ("目標", policy.goal),
        ("使命", policy.mission),
        ("方針", policy.basic_policy),
    ):
        if value:
            first = value.split("\n")[0]
            more = "…" if len(first) > _FIRST_LINE else ""
            lines.append(f"  {name}: {first[:_FIRST_LINE]}{more}")

    shown = shown_amounts(policy)

    def row(indent: int, level: str, node: Node, key: str) -> str:
        label = _label(f"{LEVEL_JA[level]}{node.code or ''}", node.title or "(名称なし)")
        return (fit(" " * indent + label, WIDTH) + _amount(shown[key])).rstrip()

    n_strategies = n_initiatives = 0
    for issue in policy.issues:
        lines.append(row(0, "issue", issue, node_key(issue.position)))
        for strategy in issue.strategies:
            n_strategies += 1
            key = node_key(issue.position, strategy.position)
            lines.append(row(2, "strategy", strategy, key))
            for initiative in strategy.initiatives:
                n_initiatives += 1
                key = node_key(issue.position, strategy.position, initiative.position)
                lines.append(row(4, "initiative", initiative, key))
    for reform in policy.reforms:
        count = len(reform.contents)
        lines.append(
            _label("改革", reform.plan, reform.code, reform.title)
            + f" ({count} item{'s' if count != 1 else ''})"
        )
    total = policy_total(policy)
    lines.append(
        f"計 {amount_text(total, unit=True)}; "
        f"{LEVEL_JA['issue']} {len(policy.issues)}, {LEVEL_JA['strategy']} {n_strategies}, "
        f"{LEVEL_JA['initiative']} {n_initiatives}, 改革 {len(policy.reforms)}, "
        f"warnings {len(policy.warnings)}"
    )
    return "\n".join(lines)
