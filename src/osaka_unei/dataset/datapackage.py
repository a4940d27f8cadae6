"""The Frictionless Data Package descriptor (datapackage.json), from the column specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from osaka_unei.dataset.tables import TABLES, TableSpec
from osaka_unei.wards import SITE_URL

DATAPACKAGE_NAME = "datapackage.json"
SOURCE_URL = SITE_URL

# The two statements of LICENSE, as Frictionless `licenses` entries (name or path, title);
# Datasette's metadata shows the same (db/datasette.py). The texts and amounts are the
# city's pages: no open licence is claimed for them.
DATA_LICENSE: dict[str, str] = {
    "path": SOURCE_URL,
    "title": (
        "テキスト: 大阪市の著作物(区運営方針のページ)。研究・市民利用のために転載、"
        "利用は大阪市ホームページの利用条件に従う / Texts: © 大阪市 (Osaka City), from its "
        "ward 運営方針 pages, reproduced for research and civic use; the city's terms of use "
        "for its website apply"
    ),
}
CODE_LICENSE: dict[str, str] = {
    "name": "MIT",
    "path": "https://opensource.org/licenses/MIT",
    "title": "コード: MIT License (the osaka-unei contributors) / Code: MIT License",
}


def datapackage(specs: Sequence[TableSpec] = TABLES) -> dict[str, Any]:
    """The Frictionless Data Package descriptor of these tables: static, so it never varies
    between builds."""
    resources = []
    for spec in specs:
        fields = []
        for column in spec.columns:
            entry: dict[str, Any] = {
                "name": column.name,
                "type": column.kind,
                "title": column.en,
                "description": f"{column.ja} / {column.en}",
            }
            if column.kind == "date":
                entry["format"] = "default"
            if column.unit:
                entry["unit"] = column.unit
            constraints: dict[str, Any] = {}
            if column.required:
                constraints["required"] = True
            if column.enum:
                constraints["enum"] = list(column.enum)
            if column.unit:
                constraints["minimum"] = 0
            if constraints:
                entry["constraints"] = constraints
            fields.append(entry)
        schema: dict[str, Any] = {"fields": fields, "primaryKey": list(spec.key)}
        if spec.name != "policies" and any(
            column.name == "policy_id" and column.required for column in spec.columns
        ):
            schema["foreignKeys"] = [
                {
                    "fields": ["policy_id"],
                    "reference": {"resource": "policies", "fields": ["policy_id"]},
                }
            ]
        resources.append(
            {
                "name": spec.name,
                "path": f"{spec.name}.csv",
                "title": spec.en,
                "description": f"{spec.ja} / {spec.en}. Same data in {spec.name}.parquet.",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "parquet_path": f"{spec.name}.parquet",
                "schema": schema,
            }
        )
    return {
        "name": "osaka-unei",
        "title": "大阪市 区運営方針 / Osaka City ward operating policies",
        "description": (
            "大阪市24区の区運営方針(目標・使命・経営課題・戦略・具体的取組・予算額)。"
            "金額の単位は千円。 / The yearly operating policies of Osaka City's 24 wards: "
            "goals, issues, strategies, initiatives and budgets. Amounts are in 千円 "
            "(thousand yen). Each CSV has a Parquet twin of the same name. In the CSVs "
            "only, a text cell starting with =, +, -, @, a tab or a carriage return has a "
            "leading ' (no spreadsheet runs it as a formula) and a carriage return inside a "
            "cell is a line feed; the Parquet files and the SQLite database keep the exact text."
        ),
        "sources": [
            {"title": "大阪市 各区のホームページ (Osaka City ward pages)", "path": SOURCE_URL}
        ],
        "licenses": [dict(DATA_LICENSE), dict(CODE_LICENSE)],
        "resources": resources,
    }
