"""Datasette plugin: amounts read as `32,550 千円`, themes by their Japanese names.

What to format is data in the metadata (`plugins` → `osaka-unei`, written by
osaka_unei.db.datasette from the column specs and the theme codebook):

- `thousand_yen`: table → the columns whose unit is 千円; `query_columns`: the same names
  for canned queries (no table). Such a cell shows `32,550 千円`, a missing amount `—`.
- `summed`: the amount shown (`column`, thousand_yen) where the row's `printed` column is 0
  is the sum of its children, marked as every surface marks it:
  `<span class="summed" title="下位項目の合計">32,550 千円 (計)</span>`.
- `theme_columns`: table → columns holding theme ids (`children;safety`), shown by their
  names from `theme_names`.

Only the HTML changes: the JSON and CSV keep the raw values.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from osaka_unei.amounts import NO_AMOUNT, SUMMED_TITLE, amount_text

PLUGIN = "osaka-unei"


def _config(datasette: Any) -> dict[str, Any]:
    return datasette.plugin_config(PLUGIN) or {}


def _flag(row: Any, name: str) -> Any:
    try:
        return row[name]
    except (KeyError, IndexError):
        return None


def format_amount(value: Any, summed: bool = False) -> Markup | None:
    if value is None or value == "":
        return Markup(NO_AMOUNT)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    text = amount_text(round(value), not summed, unit=True)
    if summed:
        return Markup('<span class="summed" title="{}">{}</span>').format(SUMMED_TITLE, text)
    return Markup("{}").format(text)


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | None:
    config = _config(datasette)
    if table is None:
        amounts = config.get("query_columns", [])
    else:
        amounts = config.get("thousand_yen", {}).get(table, [])
    if column in amounts:
        summed = config.get("summed", {})
        marked = column == summed.get("column") and _flag(row, summed.get("printed", "")) == 0
        return format_amount(value, summed=marked)
    if table is not None and column in config.get("theme_columns", {}).get(table, []):
        if not isinstance(value, str) or not value:
            return None
        names = config.get("theme_names", {})
        return Markup("・").join(
            Markup('<span title="{}">{}</span>').format(theme, names.get(theme, theme))
            for theme in value.split(";")
        )
    return None
