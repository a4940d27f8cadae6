"""The refresh policy: which registry pages a routine fetch re-checks, which are settled.

A ward's page for fiscal year N changes until the self-evaluation note the following June
(site notes: draft around February, confirmed in April, mid-year review, 自己評価 in June
of N+1). Fiscal years start in April, so once fiscal year N+2 has begun a page of year N
no longer changes: re-requesting it on every run only costs the site a request. A page is
re-checked when any rule below says so; otherwise it is *settled* and skipped.

Rules (``check_reason``), in order:
1. its fiscal year is unknown, or the current or the previous fiscal year (or later);
2. its stored page is a draft ((案), (素案)): a draft may still be replaced;
3. it was never fetched from the site (no complete stored version, or a capture only);
4. its last fetch attempt did not end well (failed, incomplete, disallowed);
5. its last good check is more than ``max_age_days`` old.
``check_all`` (``fetch --all``) re-checks everything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from osaka_unei.calendar import fiscal_year_of
from osaka_unei.decoding import decode
from osaka_unei.errors import PageError
from osaka_unei.fetch.registry import Page
from osaka_unei.models import RawRecord
from osaka_unei.settings import DEFAULTS
from osaka_unei.text import clean_line

MAX_AGE_DAYS = DEFAULTS.max_age_days
_GOOD = ("fetched", "unchanged")
_DRAFT = re.compile(r"運営方針\s*\(\s*素?案\s*\)")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class History:
    """What the manifest says about one page address."""

    has_version: bool = False  # a complete stored version (fetched or a capture)
    last_attempt: RawRecord | None = None  # the latest fetch attempt, whatever its end
    last_check: dt.datetime | None = None  # the latest attempt that ended well


def histories(records: Iterable[RawRecord]) -> dict[str, History]:
    """Per page url, its History (captures count as versions, never as checks)."""
    has_version: set[str] = set()
    last_attempt: dict[str, RawRecord] = {}
    last_check: dict[str, dt.datetime] = {}
    for record in records:
        if record.path and record.outcome != "incomplete":
            has_version.add(record.url)
        if record.source_kind != "fetched" or record.outcome == "capture":
            continue
        known = last_attempt.get(record.url)
        if known is None or record.fetched_at >= known.fetched_at:
            last_attempt[record.url] = record
        checked = last_check.get(record.url)
        if record.outcome in _GOOD and (checked is None or record.fetched_at >= checked):
            last_check[record.url] = record.fetched_at
    urls = has_version | set(last_attempt)
    return {
        url: History(url in has_version, last_attempt.get(url), last_check.get(url)) for url in urls
    }


def check_reason(
    page: Page,
    history: History | None,
    today: dt.date,
    max_age_days: int = MAX_AGE_DAYS,
    draft: bool = False,
) -> str | None:
    """Why `page` must be re-checked today, or None when it is settled (rules above)."""
    if page.fiscal_year is None:
        return "fiscal year unknown"
    if page.fiscal_year >= fiscal_year_of(today) - 1:
        return "fiscal year still open"
    if draft:
        return "draft"
    if history is None or not history.has_version or history.last_check is None:
        return "never fetched"
    if history.last_attempt is not None and history.last_attempt.outcome not in _GOOD:
        return "last fetch did not end well"
    age = today - history.last_check.astimezone(dt.UTC).date()
    if age.days > max_age_days:
        return f"last checked {age.days} days ago"
    return None


def pages_to_check(
    pages: Sequence[Page],
    previous_records: Iterable[RawRecord],
    today: dt.date,
    max_age_days: int = MAX_AGE_DAYS,
    check_all: bool = False,
    *,
    drafts: Collection[str] = (),
) -> tuple[list[Page], list[Page]]:
    """(pages to re-check, settled pages), each in registry order. `drafts`: urls whose
    stored latest version is a draft (see ``is_draft_page``)."""
    if check_all:
        return list(pages), []
    known = histories(previous_records)
    to_check: list[Page] = []
    settled: list[Page] = []
    for page in pages:
        reason = check_reason(page, known.get(page.url), today, max_age_days, page.url in drafts)
        (settled if reason is None else to_check).append(page)
    return to_check, settled


def is_draft_page(data: bytes, charset: str | None = None) -> bool:
    """Whether a stored page's title says (案) or (素案): its <title> or h1, or for a text
    capture its first line naming a 運営方針."""
    try:
        text = decode(data[:65536], charset)[0]
    except PageError:
        return False
    titles = [clean_line(_TAG.sub("", a or b)) for a, b in _TITLE.findall(text)]
    if not titles:  # a text capture: the title line is near the top
        titles = [clean_line(line) for line in text.splitlines()[:40] if "運営方針" in line][:1]
    return any(_DRAFT.search(title) for title in titles)
