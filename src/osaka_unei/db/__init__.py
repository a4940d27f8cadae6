"""The dataset as one SQLite database, searchable in Japanese, served by Datasette.

In: the published tables as DataFrames (name → frame, as the build or
`osaka_unei.load()` give them) with their `TableSpec`s. Out: one SQLite file (`sqlite.py`: the
same tables and columns with keys, foreign keys and views, plus `nodes` and its bigram
full-text index, `fts.py`), a search over it (`search.py`), and Datasette metadata built
from the same column specs as datapackage.json (`datasette.py`), with a one-function
Datasette plugin for the bigram query (`datasette_plugins/bigram_query.py`).
"""

from osaka_unei.db.fts import bigram_query
from osaka_unei.db.search import Hit, search

# Lazy: `osaka-unei search` imports db.search, and must not bring pandas (db.sqlite) with it.
_EXPORTS = {
    "DATABASE_FILE": "osaka_unei.db.datasette",
    "DATABASE_NAME": "osaka_unei.db.datasette",
    "datasette_metadata": "osaka_unei.db.datasette",
    "write_database": "osaka_unei.db.sqlite",
}

__all__ = [
    "DATABASE_FILE",
    "DATABASE_NAME",
    "Hit",
    "bigram_query",
    "datasette_metadata",
    "search",
    "write_database",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
