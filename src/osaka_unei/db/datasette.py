"""Datasette metadata for the database, from the same column specs as datapackage.json.

Search: the `nodes` table names `nodes_fts` as its `fts_table` (rowid = node_id), so
Datasette offers its search box and `?_search=`; the plugin `datasette_plugins/bigram_query.py`
(`--plugins-dir`) makes Datasette's query text go through the bigram transform. The canned
query `search_nodes` (ranked by bm25, with ward and year) calls `bigram_query(text)`.

What the plugins format (amounts in 千円, theme names) is data here, under `plugins` →
`osaka-unei`: see `datasette_plugins/cells.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osaka_unei.analysis.themes import CODEBOOK
from osaka_unei.dataset.datapackage import CODE_LICENSE, DATA_LICENSE, SOURCE_URL
from osaka_unei.dataset.tables import Column, TableSpec
from osaka_unei.db import fts
from osaka_unei.db.sqlite import STORAGE_NOTES, View, database_specs, views
from osaka_unei.store import DATABASE_FILE

DATABASE_NAME = Path(DATABASE_FILE).stem  # Datasette names a database after its file
DATASETTE_METADATA = "datasette.json"
PLUGINS_DIR = Path(__file__).parent / "datasette_plugins"
PLUGIN = "osaka-unei"  # the plugins' configuration key (datasette_plugins/cells.py)
THOUSAND_YEN = "千円"
# The node model's amount shown (nodes.thousand_yen) is the sum of the children's where
# nodes.printed is 0: marked as every surface marks it (datasette_plugins/cells.py).
SHOWN_AMOUNT = "thousand_yen"
PRINTED_COLUMN = "printed"
THEME_COLUMNS = ("themes",)  # theme ids joined by ";" (themes.theme is a foreign key)

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
                " 全文検索: 検索欄(部分一致)、または順位つきのクエリ search_nodes /"
                " full-text search: the search box (substring match), or the ranked"
                " search_nodes query."
                if spec.name == fts.NODES
                else ""
            )
        ),
        "columns": {column.name: column_description(column) for column in spec.columns},
        "sortable_columns": [c.name for c in spec.columns if c.name not in UNSORTABLE],
    }
    facets: list[Any] = [name for name in FACETS if name in spec.names]
    # Theme ids joined by ";": counted theme by theme (datasette_plugins/theme_facet.py).
    facets += [{"themes": name} for name in THEME_COLUMNS if name in spec.names]
    if facets:
        meta["facets"] = facets
    if "title" in spec.names:
        meta["label_column"] = "title"
    elif "name_ja" in spec.names:
        meta["label_column"] = "name_ja"  # theme_codebook: facets on themes.theme show it
    if spec.name == fts.NODES:
        meta["fts_table"] = fts.FTS
        meta["fts_pk"] = "node_id"
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
    amounts = {
        spec.name: [c.name for c in spec.columns if c.unit == THOUSAND_YEN] for spec in all_specs
    }
    for view in views(names):
        amounts[view.name] = [
            name
            for name in (*view.inherited, *view.columns)
            if name.endswith("thousand_yen") and THOUSAND_YEN in tables[view.name]["columns"][name]
        ]
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
        # Datasette shows these as "Data license", "Data source" and "About".
        "license": DATA_LICENSE["title"],
        "license_url": DATA_LICENSE["path"],
        "source": "大阪市 (Osaka City)",
        "source_url": SOURCE_URL,
        "about": CODE_LICENSE["title"],
        "about_url": CODE_LICENSE["path"],
        "databases": {database: database_meta},
        "plugins": {
            PLUGIN: {
                "thousand_yen": {name: cols for name, cols in amounts.items() if cols},
                "query_columns": sorted({c for cols in amounts.values() for c in cols}),
                "summed": {"column": SHOWN_AMOUNT, "printed": PRINTED_COLUMN},
                "theme_columns": {
                    spec.name: [c for c in THEME_COLUMNS if c in spec.names]
                    for spec in all_specs
                    if any(c in spec.names for c in THEME_COLUMNS)
                },
                "theme_names": {theme.id: theme.name_ja for theme in CODEBOOK},
            }
        },
    }
