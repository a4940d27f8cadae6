"""A multi-year dataset folder for the CLI's views: the lineage fixture (港区 and 鶴見区
R4 from the seed pages, R5 and R6 written by hand) through the real node model and
database writer, so that the views read the same `nodes` table a build publishes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osaka_unei.analysis.lineage import build_lineage, load_fixture_tables
from osaka_unei.dataset.nodes import NODES, nodes_table
from osaka_unei.db.sqlite import write_database
from osaka_unei.views.text import DATABASE_FILE

FIXTURE = Path(__file__).parent / "fixtures" / "lineage" / "tables.json"


def multiyear_tables() -> dict[str, pd.DataFrame]:
    tables = load_fixture_tables(FIXTURE)
    tables["sdgs"] = pd.DataFrame(columns=["policy_id", "level", "node_key", "goal"])
    lineage, errors = build_lineage(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"]
    )
    assert errors == []
    themes = pd.DataFrame(columns=["policy_id", "node_key", "theme"])
    tables["nodes"] = nodes_table(tables, lineage, themes, [])
    tables["lineage"] = lineage
    return tables


def write_dataset(folder: Path) -> Path:
    """folder/osaka_unei.sqlite holding the fixture's nodes (and its search index)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_database(folder / DATABASE_FILE, {"nodes": multiyear_tables()["nodes"]}, [NODES])
    return folder
