"""Datasette plugin: the SQL function `bigram_query(text)` for the `search_nodes` query.

Load it with `datasette … --plugins-dir src/osaka_unei/db/datasette_plugins` (Datasette
loads every .py file of that folder; this is the only one). A canned query runs SQL only,
and the text must become the bigram MATCH expression of osaka_unei.db.fts.
"""

import sqlite3

from datasette import hookimpl

from osaka_unei.db.fts import bigram_query


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("bigram_query", 1, bigram_query, deterministic=True)
