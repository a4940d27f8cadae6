"""Query the database's bigram index: hits ranked by bm25 (views.search shows them)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from osaka_unei.db import fts


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


def search(
    db_path: Path | str,
    query: str,
    ward: str | None = None,
    year: int | None = None,
    limit: int = 50,
) -> list[Hit]:
    """Nodes whose title or description contains every word of the query (a substring
    match, NFKC- and ASCII-case-insensitive), best first. `ward` is a name (北区) or a slug."""
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
    return [Hit(*row[:8], None if row[8] is None else bool(row[8]), *row[9:]) for row in rows]
