"""Numbers and words the pages show, as plain Python values (pure, no rendering).

Every amount of an issue, strategy or initiative is the `nodes` table's `thousand_yen`
(report/nodes.py); a summed one (`printed` false) is marked `class="summed"` with the
title 下位項目の合計. A missing amount is `—`, never 0, nan or None.
"""

from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup, escape

from osaka_unei import amounts
from osaka_unei.amounts import NO_AMOUNT, SUMMED_TITLE
from osaka_unei.dataset.values import clean, int_or_none, missing

_SUMMED_TITLE_E = str(escape(SUMMED_TITLE))


def _int(value: Any) -> int | None:
    # an int as it is (most amounts, read as plain Python values): pd.isna only for the rest
    return value if type(value) is int else int_or_none(value)


def fmt_amount(value: Any) -> str:
    """32550 → '32,550' (千円 in the header); a missing amount is a dash, never 0."""
    return amounts.amount_text(_int(value))


def fmt_yen(value: Any) -> str:
    """32550 → '32,550 千円'; a missing amount is a dash."""
    return amounts.amount_text(_int(value), unit=True)


def fmt_count(value: Any) -> str:
    return "—" if missing(value) else f"{int(value):,}"


def amount_cell(policy_id: str, node_key: str, value: Any, printed: Any) -> Markup:
    """The <td> of a node's amount, tied to its node (data-node, data-thousand-yen)."""
    summed = printed is False and value is not None
    return Markup(
        f'<td class="num{" summed" if summed else ""}" data-node="{html.escape(policy_id)}:'
        f'{html.escape(node_key)}" data-thousand-yen="{"" if value is None else int(value)}"'
        f"{f' title={chr(34)}{SUMMED_TITLE}{chr(34)}' if summed else ''}>{fmt_amount(value)}</td>"
    )


def amount_text(value: Any, printed: Any) -> Markup:
    """An amount in running text: '32,550 千円', '19,915 千円 (計)' marked summed, or '—'."""
    if value is None:
        return Markup(NO_AMOUNT)
    # digits, commas and the unit's and the mark's fixed words: nothing to escape (this is
    # made for every node of every item page, so without markupsafe's format)
    text = amounts.amount_text(int(value), printed is not False, unit=True)
    if printed is False:
        return Markup(f'<span class="summed" title="{_SUMMED_TITLE_E}">{text}</span>')
    return Markup(text)


def code_label(level: str, code: Any) -> str:
    """経営課題1 / 戦略1-2 / 1-2-3; a node without a printed code shows its level alone."""
    code = clean(code)
    if level == "issue":
        return f"経営課題{code}" if code else "経営課題"
    if level == "strategy":
        return f"戦略{code}" if code else "戦略"
    return str(code) if code else ""
