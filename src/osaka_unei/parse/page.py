"""One page → a WardPolicy: extract, walk, tree, sanity check.

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

import hashlib
from pathlib import Path
from typing import Literal

from osaka_unei import store
from osaka_unei.calendar import fiscal_year_from_title
from osaka_unei.errors import NotAPolicyPageError, NotAWardPageError, PageError
from osaka_unei.models import (
    WardPolicy,
)
from osaka_unei.parse.extract import (
    MAX_LINES,
    Line,
    extract,
)
from osaka_unei.parse.forms import ALT_MARKERS
from osaka_unei.parse.rules import (
    DRAFT_MARK,
    PageState,
    refuse,
    walk_lines,
    warn_unread_initiatives,
)
from osaka_unei.parse.tree import assemble_tree
from osaka_unei.text import bounded, join_lines
from osaka_unei.wards import WARD_SLUGS, page_address, ward_named_in_title

_TITLE_SEARCH_LINES = 3
# With the bounds on lines (extract.MAX_LINES), amounts and nodes (rules.MAX_AMOUNTS,
# MAX_NODES) and on the warnings kept (then one line "… and K more"), a page's parse and
# its rows stay bounded whatever it holds.
MAX_WARNINGS = 100

# --- reading the source ----------------------------------------------------------------


def _read_source(source: bytes | str | Path) -> tuple[bytes, bool | None]:
    """Bytes and whether it is a text capture (.txt), or None to decide from the content."""
    if isinstance(source, bytes):
        return source, None
    if isinstance(source, Path):
        data = store.read_bounded(source)  # a file is read no further than the fetcher's cap
        if data is None:
            raise PageError(f"page refused: larger than {store.MAX_PAGE_BYTES:,} bytes")
        return data, (True if source.suffix.lower() == ".txt" else None)
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


def _find_title(lines: list[Line]) -> int:
    """Index of the title line: the first lines after the alt-text markers."""
    seen = 0
    for index, line in enumerate(lines):
        if ALT_MARKERS.search(line.text):
            continue
        if "運営方針" in line.text and len(line.text) <= 100:
            return index
        seen += 1
        if seen >= _TITLE_SEARCH_LINES:
            break
    first = next((line.text for line in lines if not ALT_MARKERS.search(line.text)), "")
    if "運営方針" in first[:100]:
        # Not some other page: its first line names 運営方針 and then runs on.
        raise NotAPolicyPageError(
            f"no title line: the first line names 運営方針 but runs on for {len(first):,} "
            f"characters (a closing tag missing?): {first[:40]!r}"
        )
    raise NotAPolicyPageError(f"not a 運営方針 page (it starts with {first[:40]!r})")


# --- the whole page ---------------------------------------------------------------------


def build_policy(
    lines: list[Line],
    *,
    url: str | None,
    source_format: Literal["html", "text"],
    source_sha256: str,
    warnings: list[str] | None = None,
) -> WardPolicy:
    """Lines → WardPolicy; raises NotAPolicyPageError / NotAWardPageError, or PageError
    for a page past the bounds (MAX_LINES, rules.MAX_AMOUNTS, rules.MAX_NODES)."""
    if len(lines) > MAX_LINES:
        refuse("lines", MAX_LINES)
    title_index = _find_title(lines)
    title = lines[title_index].text
    ward = ward_named_in_title(title)
    if ward is None:
        raise NotAWardPageError(f"not a ward 運営方針 page (a bureau's?): {title}")
    fiscal_year, label, year_warnings = fiscal_year_from_title(title)
    draft = DRAFT_MARK.search(title) is not None
    state = PageState(title=title, fiscal_year=fiscal_year)
    state.warnings.extend(warnings or [])
    state.warnings.extend(year_warnings)
    walk_lines(state, lines[title_index + 1 :])
    warn_unread_initiatives(state, [*lines[: title_index + 1], *state.unchecked])
    issues = assemble_tree(state, fiscal_year, draft)

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
            "warnings": bounded(state.warnings, MAX_WARNINGS),
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
