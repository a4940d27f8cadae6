"""Datasette metadata for the database, from the same column specs as datapackage.json.

Datasette's own `?_search=` sends the raw text to FTS MATCH, which cannot match bigram
tokens, so search is the canned query `search_nodes`; it calls `bigram_query(text)`, an SQL
function that the plugin in `datasette_plugins/` registers (`--plugins-dir`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osaka_unei.dataset.datapackage import SOURCE_URL
from osaka_unei.dataset.tables import Column, TableSpec
from osaka_unei.db import fts
from osaka_unei.db.sqlite import STORAGE_NOTES, View, database_specs, views

DATABASE_NAME = "osaka_unei"  # Datasette names a database after its file
DATABASE_FILE = f"{DATABASE_NAME}.sqlite"
DATASETTE_METADATA = "datasette.json"
PLUGINS_DIR = Path(__file__).parent / "datasette_plugins"

# Columns worth a facet wherever they occur (theme: a later table).
FACETS = ("ward", "fiscal_year", "level", "theme", "kind", "status", "draft")
# Long free text: sorting by it says nothing.
UNSORTABLE = ("description", "goal", "mission", "basic_policy", "contents", "messages", "raw")

SEARCH_SQL = f"""SELECT n.ward, n.fiscal_year, n.level, n.code, n.title,
       n.thousand_yen, n.printed, n.policy_id, n.node_key, n.node_id,
       round(-{fts.BM25}, 3) AS score
FROM {fts.FTS} JOIN {fts.NODES} AS n ON n.node_id = {fts.FTS}.rowid
WHERE {fts.FTS} MATCH bigram_query(:q)
  AND (:ward = '' OR n.ward = :ward OR n.ward_slug = :ward)
  AND (:year = '' OR n.fiscal_year = :year)
ORDER BY score DESC, n.node_id
LIMIT 200"""


def column_description(column: Column) -> str:
    """`ja / en`, the unit, and how the kind is stored where SQLite has no such type."""
    text = f"{column.ja} / {column.en}"
    if column.unit:
        text += f" (単位 unit: {column.unit})"
    if column.kind in STORAGE_NOTES:
        text += f" [{STORAGE_NOTES[column.kind]}]"
    if column.enum:
        text += f" ({' / '.join(column.enum)})"
    return text


def _table(spec: TableSpec) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": f"{spec.ja} / {spec.en}",
        "description": (
            f"{spec.ja} / {spec.en}. 主キー primary key: ({', '.join(spec.key)})."
            + (
                " 検索はクエリ search_nodes で / full-text search: the search_nodes query."
                if spec.name == fts.NODES
                else ""
            )
        ),
        "columns": {column.name: column_description(column) for column in spec.columns},
        "sortable_columns": [c.name for c in spec.columns if c.name not in UNSORTABLE],
    }
    facets = [name for name in FACETS if name in spec.names]
    if facets:
        meta["facets"] = facets
    if "title" in spec.names:
        meta["label_column"] = "title"
    return meta


def _view(view: View, described: dict[str, str]) -> dict[str, Any]:
    columns = {name: described[name] for name in view.inherited if name in described}
    columns |= {name: f"{ja} / {en}" for name, (ja, en) in view.columns.items()}
    return {
        "title": f"{view.ja} / {view.en}",
        "description": f"{view.ja} / {view.en} (view)",
        "columns": columns,
        "facets": [name for name in ("ward", "fiscal_year") if name in columns],
    }


def datasette_metadata(specs: Sequence[TableSpec], database: str = DATABASE_NAME) -> dict[str, Any]:
    """Datasette metadata (metadata.json) for a database written from these specs."""
    all_specs = database_specs([spec.name for spec in specs], specs)
    names = [spec.name for spec in all_specs]
    tables = {spec.name: _table(spec) for spec in all_specs}
    described: dict[str, str] = {}
    for spec in all_specs:
        for column in spec.columns:
            described.setdefault(column.name, column_description(column))
    for view in views(names):
        tables[view.name] = _view(view, described)
    database_meta: dict[str, Any] = {
        "title": "大阪市 区運営方針 / Osaka City ward operating policies",
        "tables": tables,
    }
    if fts.NODES in names:
        tables[fts.FTS] = {"hidden": True}
        database_meta["queries"] = {
            "search_nodes": {
                "title": "全文検索 / full-text search",
                "description": (
                    "経営課題・戦略・具体的取組の名称と説明を検索(2文字のバイグラム、部分一致)。"
                    "空白で区切った語はすべてを含むものを探します。区・年度は空欄で全件。 / "
                    "Searches titles and descriptions of issues, strategies and initiatives "
                    "(character bigrams: exact substring matches); words separated by spaces "
                    "must all occur. Leave ward (name or slug) and year empty for all."
                ),
                "sql": SEARCH_SQL,
            }
        }
    return {
        "title": "大阪市 区運営方針 / Osaka City ward operating policies",
        "description": (
            "大阪市24区の区運営方針(目標・使命・経営課題・戦略・具体的取組・予算額)。"
            "金額の単位は千円。 / The yearly operating policies of Osaka City's 24 wards: "
            "goals, issues, strategies, initiatives and budgets. Amounts are in 千円 "
            "(thousand yen)."
        ),
        "license": "MIT (code); texts © 大阪市 Osaka City, reproduced for research and civic use",
        "license_url": "https://opensource.org/licenses/MIT",
        "source": "大阪市 (Osaka City)",
        "source_url": SOURCE_URL,
        "databases": {database: database_meta},
    }
