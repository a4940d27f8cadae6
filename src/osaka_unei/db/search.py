"""Query the database's bigram index: hits ranked by bm25, with the match marked."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from osaka_unei.db import fts

MARK = "bold red"  # rich style of a matched span
_CONTEXT = 20  # characters of description shown either side of a match
# A query's bounds: every word must be in a hit, and marking costs words × hit length, so a
# 40 KB query of 5,800 words took 30-90 s. Real queries are a few words of a title.
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10


@dataclass(frozen=True, slots=True)
class Hit:
    ward: str
    fiscal_year: int
    level: str
    code: str | None
    title: str | None
    highlighted: str  # title (or, if only the description matches, an excerpt) in rich markup
    budget_thousand_yen: int | None
    score: float  # -bm25: higher is better
    policy_id: str
    node_id: int  # row of the `nodes` table


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


_SQL = f"""
SELECT n.ward, n.fiscal_year, n.level, n.code, n.title, n.description,
       n.budget_thousand_yen, {fts.BM25} AS rank, n.policy_id, n.node_id
FROM {fts.FTS} JOIN {fts.NODES} AS n ON n.node_id = {fts.FTS}.rowid
WHERE {fts.FTS} MATCH :match
  AND (:ward IS NULL OR n.ward = :ward OR n.ward_slug = :ward)
  AND (:year IS NULL OR n.fiscal_year = :year)
ORDER BY rank, n.node_id
LIMIT :limit
"""


def query_problem(query: str) -> str | None:
    """Why a query is refused (one line), or None: at most MAX_QUERY_CHARS characters and
    MAX_QUERY_WORDS words."""
    if len(query) > MAX_QUERY_CHARS:
        return (
            f"the query is {len(query):,} characters long; at most {MAX_QUERY_CHARS} are searched"
        )
    words = len(fts.query_terms(query))
    if words > MAX_QUERY_WORDS:
        return f"the query has {words:,} words; at most {MAX_QUERY_WORDS} are searched"
    return None


def search(
    db_path: Path | str,
    query: str,
    ward: str | None = None,
    year: int | None = None,
    limit: int = 50,
) -> list[Hit]:
    """Nodes whose title or description contains every word of the query (a substring
    match, NFKC- and ASCII-case-insensitive), best first. `ward` is a name (北区) or a slug.
    ValueError (query_problem) for a query past the bounds."""
    problem = query_problem(query)
    if problem is not None:
        raise ValueError(problem)
    if not fts.query_terms(query):
        return []
    uri = Path(db_path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        rows = conn.execute(
            _SQL,
            {"match": fts.bigram_query(query), "ward": ward, "year": year, "limit": limit},
        ).fetchall()
    finally:
        conn.close()
    hits = []
    for ward_name, fiscal_year, level, code, title, description, budget, rank, pid, node in rows:
        if title and fts.match_spans(title, query):
            marked = highlight(title, query)
        else:
            excerpt = _excerpt(description or "", query)
            marked = escape(title or "") + (" — " + excerpt if excerpt else "")
        hits.append(
            Hit(ward_name, fiscal_year, level, code, title, marked, budget, -rank, pid, node)
        )
    return hits


_LEVEL_JA = {"issue": "経営課題", "strategy": "戦略", "initiative": "具体的取組"}


def render_hits(hits: list[Hit]) -> Table:
    """A rich table of hits for the command line."""
    table = Table(title=f"{len(hits)} hits", title_justify="left")
    table.add_column("区")
    table.add_column("年度", justify="right")
    table.add_column("階層")
    table.add_column("番号")
    table.add_column("名称")
    table.add_column("予算額(千円)", justify="right")
    table.add_column("score", justify="right")
    for hit in hits:
        table.add_row(
            escape(hit.ward),
            str(hit.fiscal_year),
            _LEVEL_JA.get(hit.level, hit.level),
            escape(hit.code or ""),
            hit.highlighted,
            "" if hit.budget_thousand_yen is None else f"{hit.budget_thousand_yen:,}",
            f"{hit.score:.2f}",
        )
    return table
