"""The dataset as one SQLite database, searchable in Japanese, served by Datasette.

In: the published tables as DataFrames (name → frame, as the build or
`osaka_unei.load()` give them) with their `TableSpec`s. Out: one SQLite file (`sqlite.py`: the
same tables and columns with keys, foreign keys and views, plus `nodes` and its bigram
full-text index, `fts.py`), a search over it (`search.py`), and Datasette metadata built
from the same column specs as datapackage.json (`datasette.py`), with a one-function
Datasette plugin for the bigram query (`datasette_plugins/bigram_query.py`).
"""

from osaka_unei.db.datasette import DATABASE_FILE, DATABASE_NAME, datasette_metadata
from osaka_unei.db.fts import bigram_query
from osaka_unei.db.search import Hit, render_hits, search
from osaka_unei.db.sqlite import write_database

__all__ = [
    "DATABASE_FILE",
    "DATABASE_NAME",
    "Hit",
    "bigram_query",
    "datasette_metadata",
    "render_hits",
    "search",
    "write_database",
]
