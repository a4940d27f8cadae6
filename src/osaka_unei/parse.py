"""Lines of one ward 運営方針 page → a WardPolicy.

One pass over the lines with a small state machine (which part of the page we are in),
then the 経営課題 → 戦略 → 具体的取組 tree is assembled from the numbers, not from the order
on the page (港区 R4 lists two strategies before their initiatives). The forms of every
heading, section and budget live in ``variants``; this module holds only the rules that
use them.

Layout history of the pages, briefly (details in variants.py and the README):
H25–26 素案 pages with 〔25予算額 …〕 budgets and 区運営の基本的な考え方(何に重点的に…);
H27–R4 【経営課題1】/経営課題1 headings, 戦略 and 具体的取組 numbered 1-1 / 1-1-1 in many
bracket styles, budgets in 千円; R5 on: 目標/使命 without 区の, 課題認識 blocks, unnumbered
strategy bullets under 主な戦略(課題解決の方策) and 百万円 amounts on the 経営課題 itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, NamedTuple

import regex

from osaka_unei import variants as v
from osaka_unei.extract import (
    EmptyInputError,
    Line,
    PageError,
    UndecodableInputError,
    extract,
)
from osaka_unei.models import (
    Budget,
    BudgetKind,
    WardPolicy,
    rolled_up_budget,
    total_budget,
)
from osaka_unei.text import join_lines
from osaka_unei.wards import WARD_SLUGS, page_address, ward_named_in_title

__all__ = [
    "EmptyInputError",
    "NotAPolicyPageError",
    "NotAWardPageError",
    "PageError",
    "UndecodableInputError",
    "parse_page",
    "parse_source",
    "render_summary",
]


class NotAPolicyPageError(PageError):
    """The page is not a 運営方針 page at all."""


class NotAWardPageError(PageError):
    """A 運営方針 page, but of a bureau (局, 室), not of one of the 24 wards."""


Kind = Literal["issue", "strategy", "initiative"]

_ERA_BASE = {"平成": 1988, "令和": 2018}
_ERA_YEAR = re.compile(r"(平成|令和)\s*(\d{1,2}|元)\s*(?:年度|年|度)")
_GREGORIAN_YEAR = re.compile(r"(\d{4})\s*年度")
_DATE = re.compile(r"^(\d{4})年\s*(\d{1,2})月\s*(\d{1,2})日$")
_PAGE_NUMBER = re.compile(r"^ページ番号\s*:?\s*(\d+)$")
_DRAFT = re.compile(r"\((?:素案|案)\)")
_DASH_TO_HYPHEN = str.maketrans(dict.fromkeys(v.DASHES, "-"))
# What every three-part code (1-1-1, a 具体的取組's) contains.
_THREE_PART_CODE = re.compile(rf"\d{v.SEP}\d{{1,2}}{v.SEP}\d")
_SDGS_ONLY = re.compile(r"^[\d\s、,・]+$")
_LABEL_YEAR = re.compile(r"^(?:(令和|平成)\s*)?(\d{1,4}|元)")
_TITLE_STRIP = "【】《》≪≫<>〈〉〔〕[] :"
_SENTENCE_END = "。"
# Budget text can only be where a budget word or a yen unit is.
_BUDGET_HINT = ("円", "額")
# Every label (variants.LABEL) ends in 額; an amount ends in 円, then missing_open's bracket.
_LABEL_END = "額"
_BUDGET_CLOSERS = ")]》〕≫】〉"
# Lines longer than this are not scanned for budgets: the amount pattern is not linear
# on long digit runs, and no real budget line is anywhere near this long.
_BUDGET_SCAN_LIMIT = 2_000
_TITLE_SEARCH_LINES = 3
_FIRST_TWO = itemgetter(slice(0, 2))
_AT = itemgetter(0)  # of a Reading
_OPENERS = re.compile(r"[(\[《〔≪【〈]")
_CLOSERS = re.compile(r"[)\]》〕≫】〉]")


# --- reading the source ----------------------------------------------------------------


def _read_source(source: bytes | str | Path) -> tuple[bytes, bool | None]:
    """Bytes and whether it is a text capture (.txt), or None to decide from the content."""
    if isinstance(source, bytes):
        return source, None
    if isinstance(source, Path):
        return source.read_bytes(), (True if source.suffix.lower() == ".txt" else None)
    return source.encode("utf-8"), None


def parse_page(
    source: bytes | str | Path,
    *,
    url: str | None = None,
    http_charset: str | None = None,
) -> WardPolicy:
    """Parse one page: raw HTML bytes, a text capture, str content, or a Path to either.

    Raises PageError (one-line message) for empty or undecodable input and for a page that
    is not a ward 運営方針 page; anything odd inside a page becomes a warning instead.
    """
    data, is_text = _read_source(source)
    extracted = extract(data, http_charset, is_text=is_text)
    return build_policy(
        extracted.lines,
        url=url,
        source_format=extracted.source_format,
        source_sha256=hashlib.sha256(data).hexdigest(),
        warnings=extracted.warnings,
    )


def parse_source(source: str) -> WardPolicy:
    """The CLI's entry: a path to a file, or an http(s) address fetched politely."""
    if source.startswith(("http://", "https://")):
        from osaka_unei.fetch import fetch_one

        data, charset, final_url = fetch_one(source)
        return parse_page(data, url=final_url, http_charset=charset)
    path = Path(source)
    if not path.is_file():
        raise PageError(f"no such file: {source}")
    try:
        return parse_page(path)
    except OSError as exc:
        raise PageError(f"cannot read {source}: {exc.strerror or exc}") from exc


# --- page metadata -----------------------------------------------------------------------


# What the form index knows of a line, (at, match): every form before position `at` fails
# to read it; `match` is the match of the form at `at` when it reads the line (None: not
# known). A plain tuple: a line's reading is made for every line.
Reading = tuple[int, re.Match[str] | None]


# Forms to try on a line, in order: (position, the form's match or search).
_Tries = tuple[tuple[int, Callable[[str], "re.Match[str] | None"]], ...]


def _first_read(text: str, tries: _Tries, nothing: Reading) -> Reading:
    for at, matcher in tries:
        match = matcher(text)
        if match is not None:
            return at, match
    return nothing


class _FormIndex:
    """Every line form of every table, in the order the rules try them, and the first of
    them that reads a line (`read`). Forms before that one are known to fail, so a table
    is tried from there on only (`match`) and a line that no form reads is not tried at
    all: most lines are settled by one call.

    The forms worth trying on a line are those that can begin with its first two
    characters, worked out once per pair by partial matching (the `regex` module: can a
    match start with these characters?). Forms with hints may match anywhere in a line and
    are tried only where one of their hints occurs.
    """

    def __init__(self, tables: dict[str, tuple[v.Form, ...]]) -> None:
        self.forms: list[v.Form] = []
        self.spans: dict[str, tuple[int, int]] = {}  # table → (start, stop) positions
        self.table_at: list[str | None] = []  # position → its table's name
        for name, forms in tables.items():
            self.spans[name] = (len(self.forms), len(self.forms) + len(forms))
            self.forms.extend(forms)
            self.table_at.extend([name] * len(forms))
        self.none = len(self.forms)  # `at` of a line that no form reads
        self._nothing: Reading = (self.none, None)
        # position → the call that tries the form on a line: anchored, or anywhere (hints)
        self._matchers = [
            form.pattern.search if form.hints else form.pattern.match for form in self.forms
        ]
        self.table_at.append(None)
        self._floating = tuple(at for at, form in enumerate(self.forms) if form.hints)
        self._any_hint = re.compile(
            "|".join(re.escape(hint) for form in self.forms for hint in form.hints)
        )
        # position → the form as a `regex` pattern, for partial matching (unhinted forms)
        self._starts = {
            at: regex.compile(form.pattern.pattern)
            for at, form in enumerate(self.forms)
            if not form.hints
        }
        # first character → forms that can begin so; first two → (the same, + hinted forms)
        self._by_first: dict[str, tuple[int, ...]] = {}
        self._by_start: dict[str, tuple[_Tries, _Tries]] = {}

    def _can_begin(self, begin: str, positions: Iterable[int]) -> tuple[int, ...]:
        return tuple(at for at in positions if self._starts[at].match(begin, partial=True))

    def _candidates(self, begin: str) -> tuple[_Tries, _Tries]:
        """The forms that can begin with `begin`, without and with the hinted forms. Found
        among those that can begin with its first character (also kept), so that a page of
        many distinct lines costs partial matches only where a line starts like a form."""
        first = begin[:1]
        if first not in self._by_first:
            self._by_first[first] = self._can_begin(first, self._starts)
        can = self._can_begin(begin, self._by_first[first])
        return self._tries(can), self._tries(sorted(can + self._floating))

    def _tries(self, positions: Iterable[int]) -> _Tries:
        return tuple((at, self._matchers[at]) for at in positions)

    def _candidates_for(self, begin: str) -> tuple[_Tries, _Tries]:
        candidates = self._by_start.get(begin)
        if candidates is None:
            candidates = self._by_start[begin] = self._candidates(begin)
        return candidates

    def _first(self, text: str, start: int, stop: int) -> Reading:
        """The first form from position `start` to `stop` that reads `text`."""
        plain, with_hints = self._candidates_for(text[:2])
        for at, matcher in with_hints if self._any_hint.search(text) else plain:
            if at < start:
                continue
            if at >= stop:
                break
            match = matcher(text)
            if match is not None:
                return at, match
        return self.none, None

    def read(self, text: str) -> Reading:
        """The first form that reads `text` and its match; (self.none, None) if none."""
        return self._first(text, 0, self.none)

    def read_all(self, texts: list[str]) -> list[Reading]:
        """read() of every line of a page, in one pass: most lines begin like no form and
        hold no hint, and are settled with no call per line (profiled: a sixth faster)."""
        begins = list(map(_FIRST_TWO, texts))
        candidates = list(map(self._by_start.get, begins))
        if None in candidates:  # a line start not seen before
            candidates = list(map(self._candidates_for, begins))
        hint = self._any_hint.search
        nothing = self._nothing
        # Half the lines of a page begin like no form and hold no hint: no call for them.
        return [
            _first_read(text, tries, nothing)
            if (tries := with_hints if hint(text) else plain)
            else nothing
            for text, (plain, with_hints) in zip(texts, candidates, strict=True)
        ]

    def match(
        self, table: str, text: str, reading: Reading
    ) -> tuple[int, v.Form, re.Match[str]] | None:
        """The first form of `table` that reads `text` (position, form, match), given what
        `reading` knows."""
        start, stop = self.spans[table]
        at, match = reading
        if at >= stop:  # every form of the table fails: most calls
            return None
        if at < start or match is None:
            at, match = self._first(text, max(at, start), stop)
            if match is None:
                return None
        return at, self.forms[at], match


# In the order _walk tries them. The rules ask each table they need; the order only decides
# which table's form `read` finds when forms of two tables read a line.
FORMS = _FormIndex(
    {
        "end": v.END_FORMS,  # where the body ends
        "skip": v.SKIP_FORMS,  # lines to drop
        "note": v.NOTE_FORMS,  # page-history notes
        "section": v.SECTION_FORMS,
        "marker": v.MARKER_FORMS,
        "heading": v.HEADING_FORMS,
        "reform": v.REFORM_FORMS,
        "unread_heading": (v.LOOKS_LIKE_HEADING,),
    }
)


# The tables that settle a line wherever it stands come first in FORMS: a reading before
# this position is an end, skip, note or section line (test_adversarial checks the order).
_BODY_START = max(FORMS.spans[table][1] for table in ("end", "skip", "note", "section"))
_MARKER_STOP = FORMS.spans["marker"][1]
_HEADING_STOP = FORMS.spans["heading"][1]
_UNREAD_HEADING_STOP = FORMS.spans["unread_heading"][1]

_ADOBE = next(form.pattern for form in v.SKIP_FORMS if form.name == "Adobe licence note")
_ALT_MARKERS = next(form.pattern for form in v.SKIP_FORMS if form.name == "alt-text markers")


def _find_title(lines: list[Line]) -> int:
    """Index of the title line: the first lines after the alt-text markers."""
    seen = 0
    for index, line in enumerate(lines):
        if _ALT_MARKERS.search(line.text):
            continue
        if "運営方針" in line.text and len(line.text) <= 100:
            return index
        seen += 1
        if seen >= _TITLE_SEARCH_LINES:
            break
    first = next((line.text for line in lines if not _ALT_MARKERS.search(line.text)), "")
    raise NotAPolicyPageError(f"not a 運営方針 page (it starts with {first[:40]!r})")


def era_year(era: str | None, number: str) -> int:
    """平成N → 1988+N, 令和N → 2018+N, 元 = 1; a four-digit number is already Gregorian."""
    value = 1 if number == "元" else int(number)
    if era is None:
        return value
    return _ERA_BASE[era] + value


def fiscal_year_from_title(title: str) -> tuple[int, str, list[str]]:
    """Fiscal year (Gregorian start), the first 平成/令和 year as written, and warnings."""
    era = _ERA_YEAR.search(title)
    gregorian = _GREGORIAN_YEAR.search(title)
    if era:
        year = era_year(era.group(1), era.group(2))
        warnings = []
        if gregorian and int(gregorian.group(1)) != year:
            warnings.append(f"title names two different years: {title}")
        return year, era.group(0), warnings
    if gregorian:
        return int(gregorian.group(1)), gregorian.group(0), []
    raise NotAPolicyPageError(f"the title names no fiscal year: {title}")


def _label_fiscal_year(label: str, page_year: int) -> int | None:
    """The year a budget label names; a bare 29 or 4 is read in the page's era."""
    match = _LABEL_YEAR.match(label)
    if not match:
        return None
    era, number = match.groups()
    if era is not None or len(number) == 4:
        return era_year(era, number)
    value = 1 if number == "元" else int(number)
    # Whichever era puts the year closest to the page's own (令和元年度 pages say 31年度 too);
    # 平成 on a tie.
    heisei, reiwa = _ERA_BASE["平成"] + value, _ERA_BASE["令和"] + value
    return heisei if abs(heisei - page_year) <= abs(reiwa - page_year) else reiwa


# --- budgets ----------------------------------------------------------------------------


def amount_thousand_yen(text: str) -> int | None:
    """'22,268千円' → 22268, '65百万円' → 65000, '6千9百万円' → 69000, exactly; None if not
    a whole number of 千円."""
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
        oku, sen, hyaku, ones = (number(n) for n in ("oku", "sen", "hyaku", "ones"))
    except InvalidOperation:
        return None
    unit_yen = {"千円": 1000, "万円": 10_000, "円": 1}[match.group("unit")]
    yen = oku * 100_000_000 + (sen * 1000 + hyaku * 100 + ones) * unit_yen
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
    return label, _label_fiscal_year(label, page_year), _budget_kind(label)


def _make_budget(
    label: str | None, amount_text: str | None, raw: str, page_year: int, warnings: list[str]
) -> FoundBudget:
    amount = None
    if amount_text is not None:
        amount = amount_thousand_yen(amount_text)
        if amount is None:
            warnings.append(f"amount is not a whole number of 千円, kept as null: {raw}")
    if label is None:
        return FoundBudget(None, None, amount, raw, "budget")
    label, fiscal_year, kind = _label_fields(label, page_year)
    return FoundBudget(label, fiscal_year, amount, raw, kind)


def extract_budgets(text: str, page_year: int) -> _Budgets:
    """Take every budget form (variants.BUDGET_FORMS, in order) out of a line."""
    return _Budgets(*_split_budgets(text, page_year))


def _has_budget_hint(text: str) -> bool:
    """Every budget form holds 円 or 額: most lines are settled by this."""
    return _BUDGET_HINT[0] in text or _BUDGET_HINT[1] in text


def _split_budgets(
    text: str, page_year: int
) -> tuple[str, tuple[FoundBudget, ...], tuple[str, ...]]:
    """extract_budgets as a plain tuple, for the walk: it runs on nearly every line, and
    most lines hold no budget (they are returned as they are, the same object)."""
    if not _has_budget_hint(text):
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
            matches = [match for match in matches if not _unclosed(text[: match.start()])]
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


def _may_hold(place: v.BudgetPlace, text: str) -> bool:
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


def _unclosed(text: str) -> bool:
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


def _main_budget(budgets: Sequence[FoundBudget], page_year: int, draft: bool) -> FoundBudget | None:
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


def _budget_fields(
    budgets: Sequence[FoundBudget], main: FoundBudget | None
) -> list[dict[str, object]]:
    """A node's budgets as the fields of models.Budget, its main amount (`main`) marked."""
    return [dict(zip(_BUDGET_FIELDS, (*budget, budget is main), strict=True)) for budget in budgets]


def choose_main(budgets: Sequence[FoundBudget], page_year: int, draft: bool) -> list[Budget]:
    """A node's budgets as models, its main amount marked (see _main_budget)."""
    main = _main_budget(budgets, page_year, draft)
    return [Budget(**fields) for fields in _budget_fields(budgets, main)]  # type: ignore[arg-type]


# --- headings ---------------------------------------------------------------------------


class Heading(NamedTuple):
    kind: Kind
    code: str | None
    title: str | None
    rest: str | None
    form: str


def _clean_title(raw: str | None) -> str | None:
    if raw is None:
        return None
    title = raw.strip(_TITLE_STRIP)
    # 【経営課題 1】 「…」: quotes around the whole title are decoration, not wording.
    if title.startswith("「") and title.endswith("」") and title.count("「") == 1:
        title = title[1:-1].strip()
    return title or None


def normalize_code(raw: str) -> str:
    """'1 ‐ 01' → '1-1': any dash, no spaces, no leading zeros."""
    code = "".join(raw.split()).translate(_DASH_TO_HYPHEN)
    if code.isascii() and not code.startswith("0") and "-0" not in code:
        return code  # already plain: nearly every code
    return "-".join(str(int(part)) for part in code.split("-"))


# A code's level: 1-1 a strategy, 1-1-1 an initiative.
_KIND_BY_DASHES: dict[int, Kind] = {1: "strategy", 2: "initiative"}
# A pure function of a short code; pages share their codes.
_normalized_code = lru_cache(maxsize=1024)(normalize_code)


def _kind_from_keyword(keyword: str | None) -> Kind | None:
    if not keyword:
        return None
    return "strategy" if "戦略" in keyword else "initiative"


def _reading(text: str, reading: Reading | None) -> Reading:
    return FORMS.read(text) if reading is None else reading


def match_heading(text: str, reading: Reading | None = None) -> Heading | None:
    """The first form of variants.HEADING_FORMS that reads the line, or None. `reading`:
    FORMS.read(text), if the caller has it."""
    reading = _reading(text, reading)
    while (found := FORMS.match("heading", text, reading)) is not None:
        at, form, match = found
        groups = match.groupdict()
        raw_code = groups.get("code")
        code = _normalized_code(raw_code) if raw_code else None
        kind: Kind | None
        if form.role == "issue":
            kind = "issue"
        elif code is not None:
            # 【戦略1】: a code that fits no level; reported as unread, not guessed
            kind = _KIND_BY_DASHES.get(code.count("-"))
        else:
            kind = _kind_from_keyword(groups.get("kw"))
        if kind is not None:
            rest = (groups.get("rest") or "").strip() or None
            return Heading(kind, code, _clean_title(groups.get("title")), rest, form.name)
        reading = (at + 1, None)  # the forms after it may still read the line
    return None


def match_marker(
    text: str, reading: Reading | None = None
) -> tuple[v.MarkerName, re.Match[str]] | None:
    found = FORMS.match("marker", text, _reading(text, reading))
    return (found[1].name, found[2]) if found is not None else None  # type: ignore[return-value]


def match_section(
    text: str, reading: Reading | None = None
) -> tuple[v.SectionName, re.Match[str]] | None:
    found = FORMS.match("section", text, _reading(text, reading))
    return (found[1].name, found[2]) if found is not None else None  # type: ignore[return-value]


def match_reform(text: str, reading: Reading | None = None) -> re.Match[str] | None:
    found = FORMS.match("reform", text, _reading(text, reading))
    return found[2] if found is not None else None


# --- the pass over the lines ------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Node:
    kind: Kind
    code: str | None
    title: str | None
    issue: _Node | None = None  # the 経営課題 the page was in when this node appeared
    strategy: _Node | None = None  # nearest preceding 戦略 of that issue (for unnumbered)
    lines: list[str] = field(default_factory=list)
    budgets: list[FoundBudget] = field(default_factory=list)
    sdgs: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Reform:
    plan: str | None
    code: str | None
    title: str | None
    contents: list[str] = field(default_factory=list)


Section = Literal["pre", "goal", "mission", "basic_policy", "issues", "reforms"]


@dataclass(slots=True)
class _PageState:
    title: str
    fiscal_year: int
    published: dt.date | None = None
    page_number: str | None = None
    texts: dict[str, list[str]] = field(
        default_factory=lambda: {"goal": [], "mission": [], "basic_policy": []}
    )
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    nodes: list[_Node] = field(default_factory=list)
    current: _Node | None = None
    current_issue: _Node | None = None
    last_strategy: _Node | None = None
    strategy_list: bool = False  # after 主な戦略(課題解決の方策): lines are strategies
    expect_sdgs: bool = False
    plan: str | None = None
    reforms: list[_Reform] = field(default_factory=list)
    reform_style: Literal["explicit", "plain"] | None = None
    # Lines the walk did not read as issues text nor check for a heading, in page order:
    # _warn_unread_initiatives looks at these (and the lines up to the title) only.
    unchecked: list[Line] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _is_repeated_title(text: str, title_key: str) -> bool:
    key = text.replace(" ", "")
    return key.startswith(title_key) and len(key) - len(title_key) <= 30


_ADOBE_AT = FORMS.forms.index(next(form for form in v.SKIP_FORMS if form.pattern is _ADOBE))


def _is_adobe_note(text: str, reading: Reading) -> bool:
    """_ADOBE.match(text), from the line's reading: every form before `at` fails on it."""
    at = reading[0]
    return at == _ADOBE_AT or (at < _ADOBE_AT and _ADOBE.match(text) is not None)


def _attachment_names(lines: list[Line], readings: list[Reading]) -> set[int]:
    """Positions of the lines to drop: in a capture an attachment's link text stands just
    before the Adobe licence note. Only an end form comes before the note in FORMS (the
    note is the first skip form), so on most pages the first test settles it."""
    if min(map(_AT, readings), default=_ADOBE_AT + 1) > _ADOBE_AT:
        return set()
    kept: list[int] = []
    for index, (line, reading) in enumerate(zip(lines, readings, strict=True)):
        if (
            _is_adobe_note(line.text, reading)
            and kept
            and _SENTENCE_END not in lines[kept[-1]].text
        ):
            kept.pop()
        kept.append(index)
    return set(range(len(lines))) - set(kept)


def _start_node(state: _PageState, heading: Heading, budgets: Sequence[FoundBudget]) -> None:
    node = _Node(heading.kind, heading.code, heading.title, budgets=list(budgets))
    if heading.rest:
        node.lines.append(heading.rest)
    if heading.kind == "issue":
        state.current_issue = node
        state.last_strategy = None
        state.strategy_list = False
    else:
        node.issue = state.current_issue
        if heading.kind == "strategy":
            state.last_strategy = node
            if heading.code is not None:
                state.strategy_list = False
        else:
            node.strategy = state.last_strategy
            state.strategy_list = False
    state.nodes.append(node)
    state.current = node


def _attach_budgets(state: _PageState, budgets: Sequence[FoundBudget], text: str) -> None:
    if not budgets:
        return
    if state.current is None:
        state.warn(f"budget outside any 経営課題/戦略/具体的取組, dropped: {text[:60]}")
        return
    state.current.budgets.extend(budgets)


def _issue_line(state: _PageState, line: Line, reading: Reading) -> None:
    text = line.text
    budgets: Sequence[FoundBudget] = ()
    if _has_budget_hint(text):
        text, budgets, warnings = _split_budgets(text, state.fiscal_year)
        state.warnings.extend(warnings)
        if text is not line.text:
            reading = FORMS.read(text)
    if not text:  # a line of budgets only (or an empty line): nothing to add as text
        _attach_budgets(state, budgets, line.text)
        return
    if state.expect_sdgs:
        state.expect_sdgs = False
        if _SDGS_ONLY.match(text) and state.current_issue is not None:
            state.current_issue.sdgs.extend(_sdg_goals(text))
            return
    # A table's forms are asked only where the reading leaves one of them to read the line
    # (FORMS.match would say None at once: the check saves the calls on most lines).
    at = reading[0]
    if at < _MARKER_STOP and (marker := match_marker(text, reading)) is not None:
        name, match = marker
        if name == "sdgs":
            goals = _sdg_goals(match.group("goals") or "")
            if state.current_issue is not None:
                state.current_issue.sdgs.extend(goals)
            state.expect_sdgs = not goals
        elif name == "strategy_list":
            state.strategy_list = True
        elif name == "initiative_list":
            state.strategy_list = False
        _attach_budgets(state, budgets, line.text)
        return
    if at < _HEADING_STOP and (heading := match_heading(text, reading)) is not None:
        _start_node(state, heading, budgets)
        return
    if at < _UNREAD_HEADING_STOP and FORMS.match("unread_heading", text, reading) is not None:
        state.warn(f"heading form not recognised, kept as text: {text[:60]}")
    if state.strategy_list and state.current_issue is not None:
        # 令和5年度+: 主な戦略(課題解決の方策) is followed by unnumbered strategy bullets.
        _start_node(state, Heading("strategy", None, text, None, "strategy bullet"), budgets)
        return
    if state.current is None:
        state.warn(f"text before the first 経営課題, not kept: {text[:60]}")
        return
    state.current.lines.append(text)
    if budgets:
        state.current.budgets.extend(budgets)


def _sdg_goals(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text) if 1 <= int(n) <= 17]


def _reform_line(state: _PageState, line: Line, reading: Reading) -> None:
    text = line.text
    match = match_reform(text, reading)
    if match is not None:
        state.reform_style = "explicit"
        code = match.group("code")
        state.reforms.append(
            _Reform(
                state.plan, str(int(code)) if code else None, _clean_title(match.group("title"))
            )
        )
        return
    marker = match_marker(text, reading)
    if marker is not None and marker[0] == "reform_contents":
        return
    heading_like = not line.bullet and len(text) <= 40 and not text.endswith(_SENTENCE_END)
    if state.reform_style != "explicit" and heading_like:
        # 港区 R4: plain item headings, each followed by its paragraph.
        state.reform_style = "plain"
        state.reforms.append(_Reform(state.plan, None, _clean_title(text)))
        return
    if not state.reforms:
        state.reforms.append(_Reform(state.plan, None, None))
    state.reforms[-1].contents.append(text)


def _pre_line(state: _PageState, text: str) -> None:
    if state.published is None and (date := _DATE.match(text)):
        try:
            state.published = dt.date(*(int(part) for part in date.groups()))
        except ValueError:
            state.warn(f"not a valid date: {text}")
        return
    if state.page_number is None and (number := _PAGE_NUMBER.match(text)):
        state.page_number = str(int(number.group(1)))
        return
    state.notes.append(text)


def _walk(state: _PageState, lines: list[Line]) -> None:
    title_key = re.sub(_DRAFT, "", state.title).replace(" ", "")
    title_start = title_key[:1]
    readings = FORMS.read_all([line.text for line in lines])
    dropped = _attachment_names(lines, readings)
    section: Section = "pre"
    last = None  # the last line kept
    for index, (line, reading) in enumerate(zip(lines, readings, strict=True)):
        if dropped and index in dropped:
            state.unchecked.append(line)
            continue
        last = line
        text = line.text
        at = reading[0]
        # Lines are trimmed: the first character settles nearly every repeated title.
        repeated_title = text[:1] == title_start and _is_repeated_title(text, title_key)
        if at < _BODY_START or repeated_title:  # no policy text (see _BODY_START)
            table = FORMS.table_at[at]
            if table == "end":
                state.unchecked.extend(lines[index:])
                return
            state.unchecked.append(line)
            if table == "skip" or repeated_title:
                continue
            if table == "note":
                state.notes.append(text)
                continue
            name = FORMS.forms[at].name  # a section form
            if name == "reforms":
                state.plan = reading[1].group("plan")  # type: ignore[union-attr]
            if name != "block_heading":
                section = name  # type: ignore[assignment]
            continue
        if (
            section != "issues"
            and (at < _HEADING_STOP or _has_budget_hint(text))  # else no heading: no call
            and _heading_without_budgets(text, state.fiscal_year, reading)
        ):
            # A heading outside the issues part (a page without the 重点的に… line).
            section = "issues"
        if section == "issues":
            _issue_line(state, line, reading)
        elif section == "pre":
            _pre_line(state, text)
        elif section == "reforms":
            _reform_line(state, line, reading)
        else:
            state.texts[section].append(text)
    if last is not None and _unclosed(last.text):
        # A capture cut mid-heading ('【経営'): keep what it holds, but say so.
        state.warn(f"the page seems cut off after: {last.text[-30:]}")


def _heading_without_budgets(text: str, page_year: int, reading: Reading) -> Heading | None:
    """The heading a line outside the issues part reads as, once its budget text is out
    (`reading`: FORMS.read(text); both steps return at once on plain text)."""
    without = _split_budgets(text, page_year)[0]
    return match_heading(without, reading if without is text else None)


def _warn_unread_initiatives(state: _PageState, lines: list[Line]) -> None:
    """No numbered 具体的取組 leaves a page silently: a heading line the walk did not read
    as issues text (`lines`: up to the title, skipped, dropped, after the end of the body)
    is named in a warning unless its code is in the tree anyway. The walk checked the
    other lines for a heading already (_heading_without_budgets)."""
    read = {node.code for node in state.nodes if node.kind == "initiative"}
    for line in lines:
        without = _split_budgets(line.text, state.fiscal_year)[0]
        if not _THREE_PART_CODE.search(without):
            continue
        heading = match_heading(without)
        if heading is None or heading.kind != "initiative" or heading.code is None:
            continue
        if heading.code not in read:
            read.add(heading.code)
            state.warn(
                f"具体的取組 {heading.code} outside the policy text, not read: {line.text[:60]}"
            )


# --- assembling the tree from the numbers ----------------------------------------------


@lru_cache(maxsize=1024)  # a pure function of a short code; pages share their codes
def _code_key(code: str) -> tuple[int, ...]:
    return tuple(int(part) for part in code.split("-"))


# The fields of one node of the tree (Issue, Strategy or Initiative), as validated.
_Fields = dict[str, Any]


def _in_code_order(items: list[_Fields]) -> None:
    """Code order where every item has a code, else page order: the order items were
    added in (the sort is stable, so equal codes stay in page order too); then numbered."""
    if all(item["code"] is not None for item in items):
        items.sort(key=lambda item: _code_key(item["code"]))
    for position, item in enumerate(items, start=1):
        item["position"] = position


def _node_fields(node: _Node | None, code: str | None, page_year: int, draft: bool) -> _Fields:
    if node is None:  # a placeholder
        return {
            "code": code,
            "title": None,
            "description": None,
            "budget_thousand_yen": None,
            "budgets": [],
        }
    main = _main_budget(node.budgets, page_year, draft) if node.budgets else None
    return {
        "code": code,
        "title": node.title,
        # No line is empty: _issue_line keeps none, and a heading's rest is None if empty.
        "description": "\n".join(node.lines) if node.lines else None,
        "budget_thousand_yen": main.amount_thousand_yen if main is not None else None,
        "budgets": _budget_fields(node.budgets, main) if node.budgets else [],
    }


def _tree(state: _PageState, page_year: int, draft: bool) -> list[_Fields]:
    """The nodes as a tree (Issue → Strategy → Initiative) placed by their numbers, as the
    fields of the models: the policy is validated once, as a whole, which is several
    times faster than a model per node. A node whose parent is missing goes under a
    placeholder, with a warning."""
    issues: list[_Fields] = []
    issue_by_code: dict[str, _Fields] = {}  # the first issue of each code
    strategy_by_code: dict[tuple[int, str], _Fields] = {}  # (id(issue), code) → first one
    leaf_codes: set[tuple[int, str]] = set()  # (id(strategy), code)
    fields_of: dict[int, _Fields] = {}  # id(node) → its fields

    def add(code: str | None, node: _Node | None, parent: list[_Fields]) -> _Fields:
        fields = _node_fields(node, code, page_year, draft)
        parent.append(fields)
        if node is not None:
            fields_of[id(node)] = fields
        return fields

    def add_issue(code: str | None, node: _Node | None) -> _Fields:
        issue = add(code, node, issues)
        issue["sdgs"] = sorted(set(node.sdgs)) if node is not None else []
        issue["strategies"] = []
        if code is not None:
            issue_by_code.setdefault(code, issue)
        return issue

    def add_strategy(issue: _Fields, code: str | None, node: _Node | None) -> _Fields:
        strategy = add(code, node, issue["strategies"])
        strategy["initiatives"] = []
        if code is not None:
            strategy_by_code.setdefault((id(issue), code), strategy)
        return strategy

    def issue_for(code: str | None, context: _Node | None, what: str) -> _Fields:
        if code is None and context is not None:
            return fields_of[id(context)]
        found = issue_by_code.get(code) if code is not None else None
        if found is None:
            state.warn(f"{what}: no 経営課題 {code or ''} on the page; kept under a placeholder")
            found = add_issue(code, None)
        return found

    for node in state.nodes:
        code = node.code
        if node.kind == "issue":
            if code is not None and code in issue_by_code:
                state.warn(f"経営課題 {code} appears twice; both kept")
            add_issue(code, node)
        elif node.kind == "strategy":
            issue_code = code.split("-")[0] if code else None
            if issue_code is not None and node.issue is not None and node.issue.code == issue_code:
                issue = fields_of[id(node.issue)]  # the one just above, even if codes repeat
            else:
                issue = issue_for(issue_code, node.issue, f"戦略 {code or node.title}")
            if code is not None and (id(issue), code) in strategy_by_code:
                state.warn(f"戦略 {code} appears twice; both kept")
            add_strategy(issue, code, node)
        else:
            what = f"具体的取組 {code or node.title}"
            if code is not None:
                parts = code.split("-")
                issue_code, strategy_code = parts[0], "-".join(parts[:2])
                if node.issue is not None and node.issue.code == issue_code:
                    issue = fields_of[id(node.issue)]
                else:
                    issue = issue_for(issue_code, None, what)
                strategy = strategy_by_code.get((id(issue), strategy_code))
                if strategy is None:
                    state.warn(
                        f"{what}: no 戦略 {strategy_code} on the page; kept under a placeholder"
                    )
                    strategy = add_strategy(issue, strategy_code, None)
                if (id(strategy), code) in leaf_codes:
                    state.warn(f"具体的取組 {code} appears twice; both kept")
                leaf_codes.add((id(strategy), code))
            elif node.strategy is not None:
                strategy = fields_of[id(node.strategy)]
            else:
                issue = issue_for(None, node.issue, what)
                state.warn(f"{what}: no 戦略 before it; kept under a placeholder")
                strategy = add_strategy(issue, None, None)
            add(code, node, strategy["initiatives"])

    _in_code_order(issues)
    for issue in issues:
        _in_code_order(issue["strategies"])
        for strategy in issue["strategies"]:
            _in_code_order(strategy["initiatives"])
    return issues


# --- the whole page ---------------------------------------------------------------------


def build_policy(
    lines: list[Line],
    *,
    url: str | None,
    source_format: Literal["html", "text"],
    source_sha256: str,
    warnings: list[str] | None = None,
) -> WardPolicy:
    """Lines → WardPolicy; raises NotAPolicyPageError / NotAWardPageError."""
    title_index = _find_title(lines)
    title = lines[title_index].text
    ward = ward_named_in_title(title)
    if ward is None:
        raise NotAWardPageError(f"not a ward 運営方針 page (a bureau's?): {title}")
    fiscal_year, label, year_warnings = fiscal_year_from_title(title)
    draft = _DRAFT.search(title) is not None
    state = _PageState(title=title, fiscal_year=fiscal_year)
    state.warnings.extend(warnings or [])
    state.warnings.extend(year_warnings)
    _walk(state, lines[title_index + 1 :])
    _warn_unread_initiatives(state, [*lines[: title_index + 1], *state.unchecked])
    issues = _tree(state, fiscal_year, draft)

    url_slug, url_page_id = page_address(url) or (None, None)
    ward_slug = WARD_SLUGS[ward]
    if url_slug and url_slug != ward_slug and url_slug in WARD_SLUGS.values():
        state.warn(f"address is under {url_slug} but the title names {ward}")
    page_id = state.page_number or url_page_id
    if state.page_number and url_page_id and state.page_number != url_page_id:
        state.warn(f"page number {state.page_number} differs from the address ({url_page_id})")
    policy = WardPolicy.model_validate(
        {
            "title": title,
            "ward": ward,
            "ward_slug": ward_slug,
            "fiscal_year": fiscal_year,
            "fiscal_year_label": label,
            "draft": draft,
            "published": state.published,
            "page_id": page_id,
            "url": url,
            "goal": join_lines(state.texts["goal"]),
            "mission": join_lines(state.texts["mission"]),
            "basic_policy": join_lines(state.texts["basic_policy"]),
            "issues": issues,
            "reforms": [
                {"plan": r.plan, "code": r.code, "title": r.title, "contents": r.contents}
                for r in state.reforms
            ],
            "notes": state.notes,
            "warnings": state.warnings,
            "source_format": source_format,
            "source_sha256": source_sha256,
        }
    )
    _sanity_check(policy)
    return policy


def _sanity_check(policy: WardPolicy) -> None:
    """Say loudly when a page gave nothing, or gave an odd tree."""
    if not (policy.goal or policy.mission or policy.basic_policy or policy.issues):
        policy.warnings.append("no policy content found (truncated or unrecognised page?)")
    for issue in policy.issues:
        if not issue.strategies and issue.title is not None and policy.fiscal_year < 2023:
            policy.warnings.append(f"経営課題 {issue.code} has no 戦略")


# --- the human-readable tree ------------------------------------------------------------


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _amount(value: int | None) -> str:
    return f"{value:>10,} 千円" if value is not None else ""


def render_summary(policy: WardPolicy) -> str:
    """A readable tree with budgets and totals, for `osaka-unei parse --format summary`."""
    lines = [
        policy.title,
        f"  {policy.ward} ({policy.ward_slug}), fiscal year {policy.fiscal_year}"
        f" ({policy.fiscal_year_label}){', draft' if policy.draft else ''}"
        f"; page {policy.page_id or '-'}, published {policy.published or '-'}",
    ]
    for name, value in (
        ("目標", policy.goal),
        ("使命", policy.mission),
        ("方針", policy.basic_policy),
    ):
        if value:
            first = value.split("\n")[0]
            lines.append(f"  {name}: {first[:60]}{'…' if len(first) > 60 else ''}")
    width = 64

    def row(indent: int, label: str, amount: int | None) -> str:
        # Pad by display width: most of a Japanese title is double-width in a terminal.
        text = " " * indent + label
        while _display_width(text) > width:
            text = text[:-2] + "…"
        return text + " " * (width - _display_width(text)) + _amount(amount)

    n_strategies = n_initiatives = 0
    for issue in policy.issues:
        lines.append(
            row(
                0,
                f"経営課題{issue.code or ''} {issue.title or '(no title)'}",
                rolled_up_budget(issue),
            )
        )
        for strategy in issue.strategies:
            n_strategies += 1
            lines.append(
                row(
                    2,
                    f"戦略{strategy.code or ''} {strategy.title or '(placeholder)'}",
                    strategy.budget_thousand_yen,
                )
            )
            for initiative in strategy.initiatives:
                n_initiatives += 1
                lines.append(
                    row(
                        4,
                        f"取組{initiative.code or ''} {initiative.title or ''}",
                        initiative.budget_thousand_yen,
                    )
                )
    for reform in policy.reforms:
        lines.append(
            f"改革 {reform.plan or ''} {reform.code or ''} {reform.title or ''} ({len(reform.contents)} items)"
        )
    lines.append(
        f"Total {total_budget(policy) or 0:,} 千円 — {len(policy.issues)} issues, {n_strategies} strategies, "
        f"{n_initiatives} initiatives, {len(policy.reforms)} reform items, {len(policy.warnings)} warnings"
    )
    return "\n".join(lines)
