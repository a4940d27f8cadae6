"""Every stored version of every page as one table: what each version said, in numbers.

The build keeps one version per policy; this table keeps all of them (draft, final,
mid-year review, self-evaluation), so a reader can see when a page changed and which
version the other tables hold. The table is built by a pure function from versions the
build has already parsed (every stored version goes through its parse cache).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from osaka_unei.dataset.flatten import as_utc, make_frame, policy_id
from osaka_unei.dataset.nodes import policy_totals, tree_nodes
from osaka_unei.dataset.tables import Column, TableSpec
from osaka_unei.models import RawRecord, WardPolicy

VERSIONS = TableSpec(
    "versions",
    "ページの版(保存した版ごとに1行)",
    "one row per stored version of each page: what that version says, in numbers",
    (
        Column(
            "policy_id",
            "string",
            "運営方針ID({区スラッグ}-{年度}); 解析できない版は台帳の値",
            "policy id {ward_slug}-{fiscal_year}; for an unparseable version, from the manifest",
        ),
        Column(
            "path",
            "string",
            "生ファイル(data/raw からの相対パス)",
            "raw file, relative to data/raw",
            required=True,
        ),
        Column("page_id", "string", "ページ番号", "page number on the site"),
        Column("url", "string", "ページのアドレス", "page address", required=True),
        Column(
            "fetched_at",
            "datetime",
            "この版を最初に取得した日時(UTC)",
            "when this version was first fetched or added (UTC)",
            required=True,
        ),
        Column(
            "published",
            "date",
            "ページに表示された日付(最終更新日)",
            "date shown on the page (its last update)",
        ),
        Column("title", "string", "ページの題名", "page title as printed"),
        Column("draft", "boolean", "案・素案かどうか", "true for a (案)/(素案) version"),
        Column(
            "source_sha256",
            "string",
            "生ファイルのSHA-256",
            "SHA-256 of the raw file (joins changes.from_sha256 / to_sha256)",
        ),
        Column(
            "n_status_notes",
            "integer",
            "進捗管理などの注記の数",
            "number of status notes near the top (中間振り返り, 自己評価, draft notice …)",
        ),
        Column("n_issues", "integer", "経営課題の数", "number of issues"),
        Column("n_strategies", "integer", "戦略の数", "number of strategies"),
        Column("n_initiatives", "integer", "具体的取組の数", "number of initiatives"),
        Column(
            "total_budget_thousand_yen",
            "integer",
            "主な予算額の合計(千円)",
            "sum of main amounts in this version (each counted once), in thousand yen",
            unit="千円",
        ),
        Column(
            "is_current",
            "boolean",
            "公開表に使われている版かどうか",
            "true for the version the other tables hold",
            required=True,
        ),
        Column(
            "parse_status",
            "string",
            "解析結果",
            "ok, warning (parsed with warnings) or error (not parseable)",
            required=True,
            enum=("ok", "warning", "error"),
        ),
        Column("messages", "string", "メッセージ(' | ' 区切り)", "messages joined with ' | '"),
    ),
    ("path",),
)


@dataclass(frozen=True, slots=True)
class VersionInput:
    """One stored version: its manifest record (the first that names the file), its parse
    (None when the page cannot be parsed) and whether the published tables hold it."""

    record: RawRecord
    policy: WardPolicy | None
    is_current: bool
    messages: tuple[str, ...] = ()  # parse error, or build messages beyond policy.warnings


def version_policy_id(item: VersionInput) -> str | None:
    """From the parse, else from the manifest record (None if it names no ward and year)."""
    if item.policy is not None:
        return policy_id(item.policy.ward_slug, item.policy.fiscal_year)
    record = item.record
    if record.ward_slug and record.fiscal_year is not None:
        return policy_id(record.ward_slug, record.fiscal_year)
    return None


def version_order(item: VersionInput) -> tuple[Any, ...]:
    """Chronological: by fetch time, then the page's own date, then path (for ties)."""
    published = item.policy.published if item.policy else None
    return (as_utc(item.record.fetched_at), published or dt.date.min, item.record.path or "")


def _row(item: VersionInput, total: int | None) -> dict[str, Any]:
    record, policy = item.record, item.policy
    messages = [*(policy.warnings if policy else []), *item.messages]
    status = "error" if policy is None else "warning" if messages else "ok"
    row: dict[str, Any] = {
        "policy_id": version_policy_id(item),
        "path": record.path,
        "page_id": (policy.page_id if policy else None) or record.page_id,
        "url": record.url,
        "fetched_at": as_utc(record.fetched_at),
        "source_sha256": record.sha256 or (policy.source_sha256 if policy else None),
        "is_current": item.is_current,
        "parse_status": status,
        "messages": " | ".join(messages) if messages else None,
    }
    if policy is not None:
        strategies = [s for issue in policy.issues for s in issue.strategies]
        row |= {
            "published": policy.published,
            "title": policy.title,
            "draft": policy.draft,
            "n_status_notes": len(policy.notes),
            "n_issues": len(policy.issues),
            "n_strategies": len(strategies),
            "n_initiatives": sum(len(s.initiatives) for s in strategies),
            "total_budget_thousand_yen": total,
        }
    return row


def versions_table(items: Sequence[VersionInput]) -> pd.DataFrame:
    """One row per stored version (items must name distinct stored files)."""
    missing = [item.record.url for item in items if not item.record.path]
    if missing:
        raise ValueError(f"a version needs a stored file: {missing[0]}")
    parsed = [item.policy for item in items if item.policy is not None]
    totals = policy_totals(tree_nodes(parsed))  # one pass over every version's nodes
    total_of: dict[int, int | None] = {}
    for number, item in enumerate(item for item in items if item.policy is not None):
        value = totals.get(str(number), pd.NA)
        total_of[id(item)] = None if pd.isna(value) else int(value)
    return make_frame(VERSIONS, (_row(item, total_of.get(id(item))) for item in items))


def current_paths(parse_report: pd.DataFrame) -> set[str]:
    """Paths the published tables hold: parse_report rows that are ok or warning."""
    held = parse_report[parse_report["status"].isin(["ok", "warning"])]
    return set(held["path"])
