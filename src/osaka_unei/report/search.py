"""The report's offline search index: every node's title and description, in a script file.

A page opened from disk (file://) cannot fetch a JSON file in Chromium, but it can load a
script: `search-index.js` assigns the global `OSAKA_UNEI_SEARCH`, which static/search.js
reads when the search box is first used. The matching in search.js is that of
`osaka-unei search` (db/fts.py): text and query NFKC-normalised with ASCII letters lower
case, the query split at white space, and a node matches where every word is a substring of
its title or of its description (the bigram phrase match finds exactly the substrings).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from osaka_unei.report.nodes import LEVELS

GLOBAL = "OSAKA_UNEI_SEARCH"
# One row per node, in tree order: the fields in this order (search.js reads them by index).
FIELDS = (
    "ward",
    "fiscal_year",
    "level",  # index into LEVELS
    "code",
    "title",
    "description",
    "thousand_yen",  # the amount shown, or "" where none (no null anywhere in the report)
    "printed",  # 1 printed, 0 summed, "" where no amount
    "href",  # the item page (else the row of the ward page), relative to the site root
    "node",  # policy_id:node_key
)


def search_index_js(
    nodes: Sequence[Mapping[str, Any]],
    policies: Mapping[str, Any],
    fallback_href: Callable[[Mapping[str, Any], Any], str],
) -> str:
    rows = []
    for node in nodes:
        policy = policies[node["policy_id"]]
        printed = node.get("printed")
        rows.append(
            [
                policy.ward,
                policy.fiscal_year,
                LEVELS.index(node["level"]),
                node.get("code") or "",
                node.get("title") or "",
                node.get("description") or "",
                "" if node.get("thousand_yen") is None else int(node["thousand_yen"]),
                "" if node.get("thousand_yen") is None else int(bool(printed)),
                node.get("href") or fallback_href(node, policy),
                f"{node['policy_id']}:{node['node_key']}",
            ]
        )
    data = {"fields": list(FIELDS), "levels": list(LEVELS), "rows": rows}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"window.{GLOBAL} = {text};\n"
