"""Era and fiscal-year rules, shared by fetch (titles of listed pages) and parse.

平成N is 1988+N, 令和N is 2018+N, 元 is 1; a fiscal year is named by the Gregorian year it
starts in (April).
"""

from __future__ import annotations

import datetime as dt
import re

from osaka_unei.errors import NotAPolicyPageError

_ERA_BASE = {"平成": 1988, "令和": 2018}
# Up to six digits, so that 令和99999年度 is read as what it says (and refused by the
# range check), never as its last digits; ASCII digits only (NFKC folds full-width ones).
_ERA_YEAR = re.compile(r"(平成|令和)\s*([0-9]{1,6}|元)\s*(?:年度|年|度)")
_GREGORIAN_YEAR = re.compile(r"(?<![0-9])([0-9]{4})\s*年度")

# The site's ward 運営方針 pages start with 平成25年度 (2013); the latest a page can name is
# the next fiscal year (its draft appears in the autumn before). Outside this range a year
# is a typo or an attack (a registry year 2018200 once made an 18,000-column report).
FIRST_FISCAL_YEAR = 2013


def fiscal_year_of(day: dt.date) -> int:
    """The fiscal year `day` falls in, named by the year it starts in (April)."""
    return day.year if day.month >= 4 else day.year - 1


def last_fiscal_year(today: dt.date | None = None) -> int:
    """The latest fiscal year a page can name today: the next one."""
    return fiscal_year_of(today or dt.datetime.now(dt.UTC).date()) + 1


def fiscal_year_problem(year: int, today: dt.date | None = None) -> str | None:
    """Why a fiscal year cannot be a ward 運営方針 page's, or None when it can."""
    last = last_fiscal_year(today)
    if FIRST_FISCAL_YEAR <= year <= last:
        return None
    return f"fiscal year {year} is outside the site's range ({FIRST_FISCAL_YEAR}–{last})"


_LABEL_YEAR = re.compile(r"^(?:(令和|平成)\s*)?([0-9]{1,4}|元)")


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
        label = era.group(0)
        warnings = []
        if gregorian and int(gregorian.group(1)) != year:
            warnings.append(f"title names two different years: {title}")
    elif gregorian:
        year, label, warnings = int(gregorian.group(1)), gregorian.group(0), []
    else:
        raise NotAPolicyPageError(f"the title names no fiscal year: {title}")
    problem = fiscal_year_problem(year)
    if problem is not None:
        raise NotAPolicyPageError(f"{problem}: {title[:100]}")
    return year, label, warnings


def label_fiscal_year(label: str, page_year: int) -> int | None:
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
