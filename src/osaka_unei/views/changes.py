"""`osaka-unei changes POLICY`: one policy's stored versions and what changed between them.

Read from the database's `versions` and `changes` tables. The amounts are those of the
compared versions (a draft's amount is in no other table), as the changes table holds them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from osaka_unei.views.text import HEADERS, NO_AMOUNT, UNIT, amount, level_ja

# Records: `changes --format json|csv`, the changes table's columns.
FIELDS = (
    "policy_id",
    "change_no",
    "comparison",
    "from_path",
    "to_path",
    "from_fetched_at",
    "to_fetched_at",
    "change",
    "level",
    "issue_code",
    "code",
    "position",
    "title",
    "field",
    "old_value",
    "new_value",
    "old_budget_thousand_yen",
    "new_budget_thousand_yen",
)
KIND_JA = {
    "added": "追加",
    "removed": "削除",
    "retitled": "名称変更",
    "budget_changed": "予算額変更",
    "description_changed": "説明変更",
    "note_added": "注記追加",
    "note_removed": "注記削除",
    "field_changed": "項目変更",
}
LEVEL_POLICY = "運営方針"


def policy_ids(conn: sqlite3.Connection) -> list[str]:
    """Every policy id with a stored version."""
    sql = "SELECT DISTINCT policy_id FROM versions WHERE policy_id IS NOT NULL ORDER BY 1"
    return [pid for (pid,) in conn.execute(sql)]


def read_versions(conn: sqlite3.Connection, policy_id: str) -> list[dict[str, Any]]:
    sql = "SELECT * FROM versions WHERE policy_id = ? ORDER BY fetched_at, path"
    return [dict(row) for row in conn.execute(sql, (policy_id,))]


def read_changes(conn: sqlite3.Connection, policy_id: str) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(FIELDS)} FROM changes WHERE policy_id = ? ORDER BY change_no"
    return [dict(row) for row in conn.execute(sql, (policy_id,))]


def _clip(text: Any, width: int = 48) -> str:
    if text is None:
        return NO_AMOUNT
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _day(moment: Any) -> str:
    """YYYY-MM-DD of an ISO text or a date/time (`—` for none)."""
    return NO_AMOUNT if moment is None else str(moment)[:10]


def _version_line(number: int, row: dict[str, Any]) -> str:
    title = "(解析できない版)" if row["title"] is None else _clip(row["title"], 30)
    notes = row["n_status_notes"]
    total = row["total_budget_thousand_yen"]
    current = "  ← current" if row["is_current"] else ""
    return (
        f"  {number}. fetched {_day(row['fetched_at'])}, page date {_day(row['published'])}, "
        f"page {row['page_id'] or '?'}: {title}, "
        f"{amount(total)}{'' if total is None else ' ' + UNIT}, "
        f"{'注記 ' + NO_AMOUNT if notes is None else f'注記 {notes}'}"
        f" [{row['parse_status']}]{current}"
    )


def _code(row: dict[str, Any]) -> str:
    if row["code"] is not None:
        return row["code"]
    if row["position"] is None:
        return ""
    under = "" if row["issue_code"] is None else f" (経営課題{row['issue_code']})"
    return f"#{row['position']}{under}"


def _amounts(row: dict[str, Any]) -> str:
    old, new = row["old_budget_thousand_yen"], row["new_budget_thousand_yen"]
    kind = row["change"]
    if kind == "budget_changed":
        delta = "" if old is None or new is None else f" ({new - old:+,})"
        return f"{amount(old)} → {amount(new)}{delta}"
    if kind == "added":
        return amount(new)
    if kind == "removed":
        return amount(old)
    return ""


def _what(row: dict[str, Any]) -> str:
    kind = row["change"]
    if kind in ("retitled", "field_changed"):
        prefix = f"{row['field']}: " if kind == "field_changed" else ""
        return f"{prefix}{_clip(row['old_value'], 36)} → {_clip(row['new_value'], 36)}"
    if kind == "note_added":
        return _clip(row["new_value"], 60)
    if kind == "note_removed":
        return _clip(row["old_value"], 60)
    return ""


def _comparisons(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    group: list[dict[str, Any]] = []
    for row in rows:
        key = (row["to_path"], row["from_path"], row["comparison"])
        if group and key != (group[0]["to_path"], group[0]["from_path"], group[0]["comparison"]):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def changes_view(
    versions: list[dict[str, Any]], changes: list[dict[str, Any]], policy_id: str
) -> RenderableType:
    """One line per stored version, then a table of changes per comparison."""
    n = len(versions)
    if not n:
        return Text(f"{policy_id}: no stored version.")
    parts: list[RenderableType] = [
        Text(f"{policy_id}: {n} stored version{'s' if n != 1 else ''}"),
        *(Text(_version_line(k, row)) for k, row in enumerate(versions, start=1)),
    ]
    if n == 1:
        parts.append(Text("Only one version is stored: there is nothing to compare yet."))
        return Group(*parts)
    if not changes:
        parts.append(Text("No differences between the stored versions' parsed content."))
        return Group(*parts)
    for group in _comparisons(changes):
        first = group[0]
        label = "draft page → final page" if first["comparison"] == "draft_to_final" else "version"
        count = f"{len(group)} change{'s' if len(group) != 1 else ''}"
        table = Table(
            title=escape(
                f"{label}: fetched {_day(first['from_fetched_at'])} → "
                f"{_day(first['to_fetched_at'])} ({count})"
            ),
            title_justify="left",
        )
        table.add_column("変更")
        table.add_column(HEADERS["level"])
        table.add_column(HEADERS["code"])
        table.add_column(HEADERS["title"], overflow="fold")
        table.add_column(HEADERS["thousand_yen"], justify="right")
        table.add_column("内容")
        for row in group:
            level = LEVEL_POLICY if row["level"] == "policy" else level_ja(row["level"])
            title = "" if row["level"] == "policy" else _clip(row["title"], 36)
            table.add_row(
                KIND_JA.get(row["change"], row["change"]),
                level,
                escape(_code(row)),
                escape(title),
                _amounts(row),
                escape(_what(row)),
            )
        parts += [Text(""), table]
    return Group(*parts)
