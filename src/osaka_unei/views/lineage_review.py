"""`osaka-unei lineage review WARD`: the lineage's near misses, one ready-to-paste line each.

The build writes the candidate links the linker fell short of (lineage_candidates: a title
not far off, or descendants or a theme of their own in common). For each, the curator copies
one line into data/lineage-overrides.csv: `join` (the same item: link them) or `apart`
(different items: never link them, and the pair leaves the queue). The next build applies
it; the accepted actions and columns are data in overrides.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

from osaka_unei.amounts import NO_AMOUNT, amount_text
from osaka_unei.analysis.overrides import FIELD_NAMES, OVERRIDES_NAME
from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.dataset.values import clean, int_or_none
from osaka_unei.views.text import level_ja
from osaka_unei.wards import resolve_ward

# The reason written into a pasted line: a curator may edit it before saving.
REASONS = {"join": "reviewed: same item", "apart": "reviewed: different items"}


def override_line(row: Mapping[str, object], action: str) -> str:
    """One data/lineage-overrides.csv row (FIELD_NAMES order) for a queue row."""
    values = {
        "action": action,
        "ward_slug": row["ward_slug"],
        "level": row["level"],
        "from_policy_id": row["candidate_policy_id"],
        "from_node": row["candidate_node"],
        "to_policy_id": row["policy_id"],
        "to_node": row["node"],
        "reason": REASONS[action],
    }
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values[name] for name in FIELD_NAMES])
    return out.getvalue()


def _amounts(tables: Mapping[str, pd.DataFrame]) -> dict[tuple[str, str], str]:
    """(policy_id, node_key) → the node model's amount shown, as every view writes it."""
    nodes = tables["nodes"] if "nodes" in tables else nodes_frame(tables)
    return {
        (pid, key): _shown(value, printed)
        for pid, key, value, printed in zip(
            nodes["policy_id"],
            nodes["node_key"],
            nodes["thousand_yen"],
            nodes["printed"],
            strict=True,
        )
    }


def _shown(value: Any, printed: Any) -> str:
    flag = clean(printed)
    return amount_text(int_or_none(value), None if flag is None else bool(flag), unit=True)


def render_review(candidates: pd.DataFrame, tables: Mapping[str, pd.DataFrame], ward: str) -> str:
    """The ward's queue as text: each candidate with both titles, amounts and evidence, then
    the line to paste for `join` and for `apart`. ValueError for an unknown ward."""
    found = resolve_ward(ward)
    slug = found.slug
    rows = candidates[candidates["ward_slug"] == slug]
    name = f"{found.name} ({slug})"
    if rows.empty:
        return f"{name}: 確認待ちの候補はありません (no candidates to review)"
    amounts = _amounts(tables)
    none = NO_AMOUNT
    lines = [
        f"{name}: 確認待ち {len(rows)} 件。同じ項目なら join、別の項目なら apart の行を "
        f"data/{OVERRIDES_NAME} に貼り付けてください。"
    ]
    for row in rows.to_dict("records"):
        share = row["children_share"]
        evidence = [
            f"名称の類似度 {row['score']:.2f}",
            f"下位項目の一致 {row['children_agree']} 件"
            + ("" if share is None or pd.isna(share) else f"(割合 {share:.2f})"),
        ]
        if row["level"] == "issue":
            evidence.append(f"固有の共通テーマ {'あり' if row['theme'] else 'なし'}")
        else:
            same = row["parent_same"]
            evidence.append(f"親の系譜 {'同じ' if same is True or same == 1 else '別'}")
        lines += [
            "",
            f"{level_ja(row['level'])} {row['policy_id']} {row['node']} 「{row['title']}」 "
            f"{amounts.get((row['policy_id'], row['node_key']), none)}",
            f"  ← 候補{row['rank']} {row['candidate_policy_id']} {row['candidate_node']} "
            f"「{row['candidate_title']}」 "
            f"{amounts.get((row['candidate_policy_id'], row['candidate_node_key']), none)}",
            f"  根拠: {'、'.join(evidence)}。つながらなかった理由: {row['reason']}",
            f"  同じ項目: {override_line(row, 'join')}",
            f"  別の項目: {override_line(row, 'apart')}",
        ]
    return "\n".join(lines)
