"""Datasette plugin: Japanese full-text search through the bigram index, two ways.

- The SQL function `bigram_query(text)` for the canned query `search_nodes`.
- Datasette's own search (`?_search=` on the `nodes` table, whose metadata names
  `nodes_fts` as its `fts_table` with `fts_pk` node_id): Datasette turns the text into a
  MATCH expression with the SQL function `escape_fts`, which quotes each word and so cannot
  match bigram tokens. In a database with the bigram index this plugin registers
  `escape_fts` as `bigram_query` instead (after Datasette's own, `trylast`), so `_search`
  and `_search_title` find exactly what the search command finds. `_searchmode=raw` still
  passes the text as it is (FTS5 syntax over the hex tokens: for experts only).

Load with `datasette … --plugins-dir src/osaka_unei/db/datasette_plugins`. A canned query
runs SQL only, and the text must become the bigram MATCH expression of osaka_unei.db.fts.
"""

import sqlite3

from datasette import hookimpl

from osaka_unei.db.fts import FTS, bigram_query


def has_bigram_index(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FTS,)).fetchone() is not None


@hookimpl(trylast=True)
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("bigram_query", 1, bigram_query, deterministic=True)
    if has_bigram_index(conn):
        conn.create_function("escape_fts", 1, bigram_query, deterministic=True)
