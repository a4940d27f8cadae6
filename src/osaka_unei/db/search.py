"""Query the database's bigram index: hits ranked by bm25 (views.search shows them)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from osaka_unei.db import fts
from osaka_unei.errors import BadInputError

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
    description: str | None
    budget_thousand_yen: int | None  # the main amount as printed
    thousand_yen: int | None  # the amount shown (nodes.thousand_yen)
    printed: bool | None  # whether the page prints thousand_yen (false: a sum)
    score: float  # -bm25: higher is better
    policy_id: str
    node_key: str
    node_id: int  # row of the `nodes` table


_SQL = f"""
SELECT n.ward, n.fiscal_year, n.level, n.code, n.title, n.description,
       n.budget_thousand_yen, n.thousand_yen, n.printed, -{fts.BM25} AS score,
       n.policy_id, n.node_key, n.node_id
FROM {fts.FTS} JOIN {fts.NODES} AS n ON n.node_id = {fts.FTS}.rowid
WHERE {fts.FTS} MATCH :match
  AND (:ward IS NULL OR n.ward = :ward OR n.ward_slug = :ward)
  AND (:year IS NULL OR n.fiscal_year = :year)
ORDER BY score DESC, n.node_id
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
    db: Path | str | sqlite3.Connection,
    query: str,
    ward: str | None = None,
    year: int | None = None,
    limit: int = 50,
) -> list[Hit]:
    """Nodes whose title or description contains every word of the query (a substring
    match, NFKC- and ASCII-case-insensitive), best first. `ward` is a name (北区) or a slug.
    `db` is the database's path, or a connection already open on it (left open).
    BadInputError (a ValueError; query_problem) for a query past the bounds."""
    problem = query_problem(query)
    if problem is not None:
        raise BadInputError(problem)
    if not fts.query_terms(query):
        return []
    params = {"match": fts.bigram_query(query), "ward": ward, "year": year, "limit": limit}
    if isinstance(db, sqlite3.Connection):
        rows = db.execute(_SQL, params).fetchall()
    else:
        conn = sqlite3.connect(Path(db).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            rows = conn.execute(_SQL, params).fetchall()
        finally:
            conn.close()
    return [Hit(*row[:8], None if row[8] is None else bool(row[8]), *row[9:]) for row in rows]  # type: ignore[call-arg]  # a row: _SQL's columns in Hit's order
