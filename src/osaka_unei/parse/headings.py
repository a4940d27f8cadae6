"""A line as a heading (経営課題 / 戦略 / 具体的取組), a marker, a section or a reform item."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from osaka_unei.parse import variants as v
from osaka_unei.parse.forms import FORMS, Reading

_DASH_TO_HYPHEN = str.maketrans(dict.fromkeys(v.DASHES, "-"))
_TITLE_STRIP = "【】《》≪≫<>〈〉〔〕[] :"

Kind = Literal["issue", "strategy", "initiative"]

# --- headings ---------------------------------------------------------------------------


class Heading(NamedTuple):
    kind: Kind
    code: str | None
    title: str | None
    rest: str | None
    form: str


def clean_title(raw: str | None) -> str | None:
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
            return Heading(kind, code, clean_title(groups.get("title")), rest, form.name)
        reading = (at + 1, None)  # the forms after it may still read the line
    return None


def match_marker(
    text: str, reading: Reading | None = None
) -> tuple[v.MarkerName, re.Match[str]] | None:
    found = FORMS.match("marker", text, _reading(text, reading))
    return (found[1].name, found[2]) if found is not None else None  # type: ignore[return-value]  # Form.name is a str; this table's forms are named by the Literal


def match_section(
    text: str, reading: Reading | None = None
) -> tuple[v.SectionName, re.Match[str]] | None:
    found = FORMS.match("section", text, _reading(text, reading))
    return (found[1].name, found[2]) if found is not None else None  # type: ignore[return-value]  # Form.name is a str; this table's forms are named by the Literal


def match_reform(text: str, reading: Reading | None = None) -> re.Match[str] | None:
    found = FORMS.match("reform", text, _reading(text, reading))
    return found[2] if found is not None else None


_GOAL_NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")


def sdg_goal_numbers(text: str) -> list[int]:
    """The goal numbers (1–17) a SDGs line names: '3、11' or '11住み続けられるまちづくりを'."""
    return [int(n) for n in _GOAL_NUMBER.findall(text) if 1 <= int(n) <= 17]


def sdg_goals_of_line(text: str) -> list[int]:
    """The goals a line after 主なSDGsゴール names (see variants.SDG_GOAL_FORMS), or []
    where it is no goal line: a numbered line whose name is not that goal's is text."""
    for form in v.SDG_GOAL_FORMS:
        match = form.pattern.match(text)
        if match is None:
            continue
        goals = sdg_goal_numbers(match.group("goals"))
        name = (match.groupdict().get("name") or "").replace(" ", "")
        if name and not (len(goals) == 1 and name.startswith(v.SDG_GOALS[goals[0]])):
            return []
        return goals
    return []
