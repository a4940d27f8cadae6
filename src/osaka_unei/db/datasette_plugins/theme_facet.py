"""Datasette plugin: a facet on the `themes` column of `nodes`, by theme, with its name.

`nodes.themes` holds a node's theme ids joined by ";" (`safety;welfare`), so Datasette's own
column facet would count the combinations, and its array facet needs JSON. This facet type
(`themes`, set in the metadata: `{"themes": "themes"}`, or `?_facet_themes=themes`) counts
the rows carrying each theme of the codebook, in codebook order of the configuration
(`plugins` → `osaka-unei` → `theme_names`), labelled with its Japanese name; choosing one
filters with `themes__contains=<id>` (no theme id is part of another: the metadata test
checks it).
"""

from __future__ import annotations

import re
from typing import Any

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

PLUGIN = "osaka-unei"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class ThemesFacet(Facet):
    type = "themes"

    async def suggest(self) -> list[Any]:
        return []

    async def facet_results(self) -> tuple[list[Any], list[str]]:
        results: list[Any] = []
        timed_out: list[str] = []
        names = (self.ds.plugin_config(PLUGIN) or {}).get("theme_names", {})
        ids = [theme for theme in names if _ID.match(theme)]
        if not ids:
            return results, timed_out
        values = ", ".join(f"('{theme}', {n})" for n, theme in enumerate(ids))
        pairs = self.get_querystring_pairs()
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            sql = f"""
                with inner as ({self.sql}),
                codebook(value, n) as (values {values})
                select codebook.value as value, count(*) as count
                from inner join codebook
                  on ';' || inner.{escape_sqlite(column)} || ';' like '%;' || codebook.value || ';%'
                group by codebook.value
                order by min(codebook.n)"""
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            facet_values = []
            for row in rows:
                value = str(row["value"])
                arg = {f"{column}__contains": value}
                selected = (f"{column}__contains", value) in pairs
                path = (path_with_removed_args if selected else path_with_added_args)(
                    self.request, arg
                )
                facet_values.append(
                    {
                        "value": value,
                        "label": names.get(value, value),
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, path),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": facet_values,
                    "hideable": config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_facet_themes": column})
                    ),
                    "truncated": False,
                }
            )
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type[Facet]]:
    return [ThemesFacet]
