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
from osaka_unei.dataset.tables import table_spec
from osaka_unei.dataset.values import int_or_none
from osaka_unei.errors import StoreError
from osaka_unei.models import RawRecord, WardPolicy

VERSIONS = table_spec("versions")  # its columns: dataset/columns.toml


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
        raise StoreError(f"a version needs a stored file: {missing[0]}")
    # One pass over every version's nodes; tree_nodes names the i-th policy given "i".
    totals = policy_totals(tree_nodes([item.policy for item in items if item.policy]))
    numbers = iter(range(len(items)))
    return make_frame(
        VERSIONS,
        (
            _row(item, int_or_none(totals.get(str(next(numbers)))) if item.policy else None)
            for item in items
        ),
    )


def current_paths(parse_report: pd.DataFrame) -> set[str]:
    """Paths the published tables hold: parse_report rows that are ok or warning."""
    held = parse_report[parse_report["status"].isin(["ok", "warning"])]
    return set(held["path"])
