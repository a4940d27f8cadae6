"""`osaka-unei search`: hits as a table with the match marked, or as records.

Each hit's amount is the `nodes` table's `thousand_yen` (with `printed`), as in `history`.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from rich.table import Table

from osaka_unei.db import fts
from osaka_unei.db.search import Hit
from osaka_unei.views.text import AMOUNT_NOTE, HEADERS, amount, level_ja

MARK = "bold red"  # rich style of a matched span
_CONTEXT = 20  # characters of description shown either side of a match
# Records: `search --format json|csv`.
FIELDS = (
    "policy_id",
    "node_key",
    "level",
    "ward",
    "fiscal_year",
    "code",
    "title",
    "thousand_yen",
    "printed",
    "score",
)
_LATIN = re.compile(r"[A-Za-z]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def highlight(text: str, query: str) -> str:
    """Rich markup of normalize-folded text with every occurrence of the query's words marked.

    Spans are found in normalize(text); NFKC text (all the parser emits) keeps its length,
    and where it does not, the NFKC form is shown."""
    folded = fts.normalize(text)
    shown = text if len(folded) == len(text) else folded
    parts, last = [], 0
    for start, end in fts.match_spans(shown, query):
        parts.append(escape(shown[last:start]))
        parts.append(f"[{MARK}]{escape(shown[start:end])}[/{MARK}]")
        last = end
    parts.append(escape(shown[last:]))
    return "".join(parts)


def _excerpt(text: str, query: str) -> str:
    """Rich markup of the description around its first match."""
    spans = fts.match_spans(text, query)
    if not spans:
        return ""
    start = max(0, spans[0][0] - _CONTEXT)
    end = min(len(text), spans[0][1] + _CONTEXT)
    body = highlight(text[start:end], query)
    return ("…" if start else "") + body + ("…" if end < len(text) else "")


def marked(hit: Hit, query: str) -> str:
    """The title with the match marked; where only the description matches, an excerpt."""
    if hit.title and fts.match_spans(hit.title, query):
        return highlight(hit.title, query)
    excerpt = _excerpt(hit.description or "", query)
    return escape(hit.title or "") + (" — " + excerpt if excerpt else "")


def records(hits: list[Hit]) -> list[dict[str, Any]]:
    """One record per hit (FIELDS), the score rounded to 4 decimals."""
    return [
        {name: round(hit.score, 4) if name == "score" else getattr(hit, name) for name in FIELDS}
        for hit in hits
    ]


def hits_table(hits: list[Hit], query: str) -> Table:
    """A rich table of hits for the command line."""
    table = Table(title=f"{len(hits)} 件", title_justify="left", caption=AMOUNT_NOTE)
    table.add_column(HEADERS["ward"])
    table.add_column(HEADERS["fiscal_year"], justify="right")
    table.add_column(HEADERS["level"])
    table.add_column(HEADERS["code"])
    table.add_column(HEADERS["title"], overflow="fold")
    table.add_column(HEADERS["thousand_yen"], justify="right", no_wrap=True)
    for hit in hits:
        table.add_row(
            escape(hit.ward),
            str(hit.fiscal_year),
            level_ja(hit.level),
            escape(hit.code or ""),
            marked(hit, query),
            amount(hit.thousand_yen, hit.printed),
        )
    return table


def empty_message(query: str, ward: str | None, year: int | None) -> str:
    """What to say when nothing is found, and what to try instead."""
    where = " ".join(part for part in (ward, f"{year}年度" if year else None) if part)
    head = (
        f"0 件: 「{query}」" + (f" ({where})" if where else "") + " is in no title or description."
    )
    if _LATIN.search(query) and not _JAPANESE.search(query):
        return f"{head} The data is Japanese: search in Japanese, e.g. 防災, 子育て, 地域活動."
    tips = ["a shorter word (2 characters find most)"]
    if len(fts.query_terms(query)) > 1:
        tips.insert(0, "fewer words (every word must occur)")
    if ward or year:
        tips.append("without --ward / --year")
    return f"{head} Try {', or '.join(tips)}."
