"""Budget text → amounts in 千円, exactly, and the choice of a node's main amount.

Every form is in ``variants.BUDGET_FORMS``; `(29年度予算額 - )` is an amount of None, not 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from osaka_unei.calendar import label_fiscal_year
from osaka_unei.models import (
    Budget,
    BudgetKind,
)
from osaka_unei.parse import variants as v

# Budget text can only be where a budget word or a yen unit is.
_BUDGET_HINT = ("円", "額")
# Every label (variants.LABEL) ends in 額; an amount ends in 円, then missing_open's bracket.
_LABEL_END = "額"
_BUDGET_CLOSERS = ")]》〕≫】〉"
# Lines longer than this are not scanned for budgets: the amount pattern is not linear
# on long digit runs, and no real budget line is anywhere near this long.
_BUDGET_SCAN_LIMIT = 2_000
# The largest amount read, in 千円: 10^9 千円 = 1兆円, about half the city's whole general
# account (~1.8兆円 a year) and a thousand times any ward amount seen; above it an amount
# is a typo or an attack (999999999999999999千円 overflowed int64 in budget_yen and failed
# every build). It is kept as null with a warning, the raw text kept. 10,000 amounts at
# the bound still sum far inside int64, in 千円 and in yen.
MAX_AMOUNT_THOUSAND_YEN = 10**9
# A decimal digit of any script but 0–9 (٣, ३, …).
_OTHER_DIGIT = re.compile(r"[^\D0-9]")
_OPENERS = re.compile(r"[(\[《〔≪【〈]")
_CLOSERS = re.compile(r"[)\]》〕≫】〉]")

# --- budgets ----------------------------------------------------------------------------


def amount_problem(text: str) -> str | None:
    """Why an amount's text is not read as an amount, or None: a negative sign (▲, △, −,
    -), or digits of another script (٣٠٠: Python would read them as 300)."""
    if text.lstrip()[:1] in v.NEGATIVE_SIGNS:
        return "negative amount (a budget is never negative)"
    if _OTHER_DIGIT.search(text):
        return "digits other than 0–9"
    return None


def amount_thousand_yen(text: str) -> int | None:
    """'22,268千円' → 22268, '65百万円' → 65000, '6千9百万円' → 69000, exactly; None if not
    a whole number of 千円, or if amount_problem says so."""
    if amount_problem(text) is not None:
        return None
    if text.endswith("千円"):
        digits = text[:-2].rstrip(" ").replace(",", "")
        if digits.isdecimal():
            return int(digits)  # '22,268千円': nearly every amount, read as _amount_by_parts would
    return _amount_by_parts(text)


def _amount_by_parts(text: str) -> int | None:
    """amount_thousand_yen, through the parts of the amount (億, 千, 百, units)."""
    match = v.AMOUNT_PARTS.search(text)
    if not match:
        return None

    if "." not in match.group(0):
        # Whole numbers (nearly all amounts): int arithmetic, exact and several times faster.
        try:
            oku, sen, hyaku, ones = (
                int(part.replace(",", "")) if part else 0
                for part in match.group("oku", "sen", "hyaku", "ones")
            )
        except ValueError:  # ',' alone
            return None
        unit = {"千円": 1000, "万円": 10_000, "円": 1}[match.group("unit")]
        whole = oku * 100_000_000 + (sen * 1000 + hyaku * 100 + ones) * unit
        return whole // 1000 if whole % 1000 == 0 else None

    def number(name: str) -> Decimal:
        raw = match.group(name)
        return Decimal(raw.replace(",", "")) if raw else Decimal(0)

    try:
        d_oku, d_sen, d_hyaku, d_ones = (number(n) for n in ("oku", "sen", "hyaku", "ones"))
    except InvalidOperation:
        return None
    unit_yen = {"千円": 1000, "万円": 10_000, "円": 1}[match.group("unit")]
    yen = d_oku * 100_000_000 + (d_sen * 1000 + d_hyaku * 100 + d_ones) * unit_yen
    thousands = yen / 1000
    return int(thousands) if thousands == thousands.to_integral_value() else None


def _budget_kind(label: str | None) -> BudgetKind:
    if label is None:
        return "budget"
    if "CM" in label:
        return "cm_budget"
    if "決算" in label:
        return "settled"
    if "見込" in label:
        return "estimate"
    return "budget"


class FoundBudget(NamedTuple):
    """A budget as a line states it; it becomes a models.Budget (the same fields and
    is_main) once its node's main amount is chosen (choose_main)."""

    label: str | None
    fiscal_year: int | None
    amount_thousand_yen: int | None
    raw: str
    kind: BudgetKind


class _Budgets(NamedTuple):
    """Budget text found in one line, and the line without it."""

    text: str
    budgets: tuple[FoundBudget, ...] = ()
    warnings: tuple[str, ...] = ()


@lru_cache(maxsize=1024)  # a pure function of a short label; pages share their labels
def _label_fields(label: str, page_year: int) -> tuple[str, int | None, BudgetKind]:
    """A budget label as FoundBudget's label, fiscal_year and kind."""
    label = label.strip()
    return label, label_fiscal_year(label, page_year), _budget_kind(label)


def _make_budget(
    label: str | None, amount_text: str | None, raw: str, page_year: int, warnings: list[str]
) -> FoundBudget:
    amount = None
    if amount_text is not None:
        problem = amount_problem(amount_text)
        amount = amount_thousand_yen(amount_text) if problem is None else None
        if problem is not None:
            warnings.append(f"{problem}, kept as null: {raw[:80]}")
        elif amount is None:
            warnings.append(f"amount is not a whole number of 千円, kept as null: {raw}")
        elif amount > MAX_AMOUNT_THOUSAND_YEN:
            amount = None
            warnings.append(
                f"amount above {MAX_AMOUNT_THOUSAND_YEN:,} 千円 (1兆円), kept as null: {raw[:80]}"
            )
    if label is None:
        return FoundBudget(None, None, amount, raw, "budget")
    label, fiscal_year, kind = _label_fields(label, page_year)
    return FoundBudget(label, fiscal_year, amount, raw, kind)


def extract_budgets(text: str, page_year: int) -> _Budgets:
    """Take every budget form (variants.BUDGET_FORMS, in order) out of a line."""
    return _Budgets(*split_budgets(text, page_year))


def has_budget_hint(text: str) -> bool:
    """Every budget form holds 円 or 額: most lines are settled by this."""
    return _BUDGET_HINT[0] in text or _BUDGET_HINT[1] in text


def split_budgets(
    text: str, page_year: int
) -> tuple[str, tuple[FoundBudget, ...], tuple[str, ...]]:
    """extract_budgets as a plain tuple, for the walk: it runs on nearly every line, and
    most lines hold no budget (they are returned as they are, the same object)."""
    if not has_budget_hint(text):
        return text, (), ()
    if len(text) > _BUDGET_SCAN_LIMIT:
        return text, (), (f"a line of {len(text)} characters was not scanned for budgets",)
    budgets: list[FoundBudget] = []
    warnings: list[str] = []
    heading_label: str | None = None
    for form in v.BUDGET_FORMS:
        place = form.name
        if not _may_hold(place, text):
            continue
        matches = list(form.pattern.finditer(text))
        if place == "missing_open":
            # '(総額 1,000千円)': a bracket is open, it just holds more than a budget.
            matches = [match for match in matches if not unclosed(text[: match.start()])]
        if not matches:
            continue
        if place == "label_only":
            heading_label = matches[-1].group("label")
        else:
            for match in matches:
                _read_budget_group(match, page_year, budgets, warnings)
        text = _without_spans(text, matches)
    if heading_label is not None:
        # 【主な具体的取組(4年度予算額) title(77,800千円)】: the label names the bare amounts.
        label, fiscal_year, kind = _label_fields(heading_label, page_year)
        budgets = [
            budget._replace(label=label, fiscal_year=fiscal_year, kind=kind)
            if budget.label is None
            else budget
            for budget in budgets
        ]
    text = text.strip(" /、,")
    return text, tuple(budgets), tuple(warnings)


def _read_budget_group(
    match: re.Match[str], page_year: int, budgets: list[FoundBudget], warnings: list[str]
) -> None:
    """The budgets of one match of a budget form: its body holds one item or several."""
    body = match.group("body")
    item = v.BUDGET_ITEM.match(body)  # a body starts with an item; nearly all are one
    items = [item] if item is not None and item.end() == len(body) else []
    if not items:
        items = list(v.BUDGET_ITEM.finditer(body))
    # The raw text of a lone item is the whole group, brackets included.
    whole = match.group(0).strip() if len(items) == 1 else None
    for item in items:
        label, amount, dash = item.group("label", "amount", "dash")
        if dash and not label:
            continue
        raw = whole or item.group(0).strip()
        budgets.append(_make_budget(label, amount, raw, page_year, warnings))


def _may_hold(place: str, text: str) -> bool:
    """A cheap necessary condition for a form: the amount pattern is slow to fail (it tries
    every position and backtracks on digits), and most lines hold no label at all."""
    if place == "bracketed":  # the first form: 円 or 額 is in the line
        return True
    if place in ("label_only", "unbracketed"):
        return _LABEL_END in text
    if place == "missing_open":
        end = text.rstrip()
        return end[-1:] in _BUDGET_CLOSERS and end[:-1].rstrip().endswith("円")
    return True


def unclosed(text: str) -> bool:
    return len(_OPENERS.findall(text)) > len(_CLOSERS.findall(text))


def _without_spans(text: str, matches: list[re.Match[str]]) -> str:
    if len(matches) == 1:  # nearly always
        start, end = matches[0].span()
        before, after = text[:start].strip(), text[end:].strip()
        return f"{before} {after}" if before and after else before or after
    pieces = []
    last = 0
    for match in matches:
        pieces.append(text[last : match.start()].strip())
        last = match.end()
    pieces.append(text[last:].strip())
    return " ".join(piece for piece in pieces if piece)


def main_budget(budgets: Sequence[FoundBudget], page_year: int, draft: bool) -> FoundBudget | None:
    """A node's main amount: the 予算額 of the page's year (or unlabelled); on a draft its
    算定見込額 first. Never a 決算額, another year's amount or a CM amount."""
    first, second = ("estimate", "budget") if draft else ("budget", "estimate")
    fallback = None  # the first of the second kind, if none is of the first
    for budget in budgets:
        if budget.fiscal_year is not None and budget.fiscal_year != page_year:
            continue
        if budget.kind == first:
            return budget
        if budget.kind == second and fallback is None:
            fallback = budget
    return fallback


_BUDGET_FIELDS = (*FoundBudget._fields, "is_main")


def budget_fields(
    budgets: Sequence[FoundBudget], main: FoundBudget | None
) -> list[dict[str, object]]:
    """A node's budgets as the fields of models.Budget, its main amount (`main`) marked."""
    return [dict(zip(_BUDGET_FIELDS, (*budget, budget is main), strict=True)) for budget in budgets]


def choose_main(budgets: Sequence[FoundBudget], page_year: int, draft: bool) -> list[Budget]:
    """A node's budgets as models, its main amount marked (see main_budget)."""
    main = main_budget(budgets, page_year, draft)
    return [Budget(**fields) for fields in budget_fields(budgets, main)]  # type: ignore[arg-type]  # the fields are Budget's, each of its type; the dict of them is typed `object`
