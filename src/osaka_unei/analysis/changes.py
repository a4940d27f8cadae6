"""What changed between versions of a policy: nodes added, removed, retitled, re-budgeted.

Two kinds of comparison:
- `version`: consecutive stored versions of one page (one address), in fetch order; a page
  updated in place goes 案 → final → 中間振り返り → 自己評価.
- `draft_to_final`: where a ward publishes its (案) and its final policy of one year on two
  pages, the draft page's last draft version against the final page's first final version.

Nodes match by level and normalised code; uncoded nodes (令和5年度+ strategies) match by
equal title, then by equal position (an uncoded node retitled in place). A coded node never
matches by title: a renumbered node is removed + added.
"""

from __future__ import annotations

import datetime as dt
import itertools
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import pandas as pd

from osaka_unei.analysis.versions import VersionInput, version_order, version_policy_id
from osaka_unei.dataset.flatten import as_utc, make_frame
from osaka_unei.dataset.tables import Column, TableSpec
from osaka_unei.models import Initiative, Issue, Strategy, WardPolicy

ChangeKind = Literal[
    "added",
    "removed",
    "retitled",
    "budget_changed",
    "description_changed",
    "note_added",
    "note_removed",
    "field_changed",
]
Level = Literal["policy", "issue", "strategy", "initiative"]
Comparison = Literal["version", "draft_to_final"]
CHANGE_KINDS: tuple[str, ...] = get_args(ChangeKind)
LEVELS: tuple[str, ...] = get_args(Level)
COMPARISONS: tuple[str, ...] = get_args(Comparison)

# Policy-level fields compared as text (page_id/url differ by design between two pages).
POLICY_FIELDS = (
    "title",
    "draft",
    "published",
    "fiscal_year_label",
    "goal",
    "mission",
    "basic_policy",
)

Node = Issue | Strategy | Initiative

CHANGES = TableSpec(
    "changes",
    "版の間の変更(変更1件ごとに1行)",
    "one row per change between two versions of a policy",
    (
        Column(
            "policy_id",
            "string",
            "運営方針ID({区スラッグ}-{年度})",
            "policy id: {ward_slug}-{fiscal_year}",
            required=True,
        ),
        Column(
            "change_no",
            "integer",
            "運営方針内の変更の通し番号(古い比較から順)",
            "running number of the change within the policy, oldest comparison first",
            required=True,
        ),
        Column(
            "comparison",
            "string",
            "比較の種類(同じページの版どうし / 案のページと確定版のページ)",
            "version: consecutive versions of one page; draft_to_final: a draft page against "
            "the final page of the same ward and year",
            required=True,
            enum=COMPARISONS,
        ),
        Column("from_path", "string", "比較元の生ファイル", "older raw file", required=True),
        Column("to_path", "string", "比較先の生ファイル", "newer raw file", required=True),
        Column("from_sha256", "string", "比較元のSHA-256", "SHA-256 of the older version"),
        Column("to_sha256", "string", "比較先のSHA-256", "SHA-256 of the newer version"),
        Column(
            "from_fetched_at",
            "datetime",
            "比較元の取得日時(UTC)",
            "when the older version was first fetched (UTC)",
            required=True,
        ),
        Column(
            "to_fetched_at",
            "datetime",
            "比較先の取得日時(UTC)",
            "when the newer version was first fetched (UTC)",
            required=True,
        ),
        Column(
            "change",
            "string",
            "変更の種類",
            "added, removed, retitled, budget_changed, description_changed, note_added, "
            "note_removed, field_changed",
            required=True,
            enum=CHANGE_KINDS,
        ),
        Column(
            "level",
            "string",
            "対象(運営方針全体・経営課題・戦略・具体的取組)",
            "what changed: policy, issue, strategy or initiative",
            required=True,
            enum=LEVELS,
        ),
        Column(
            "issue_code",
            "string",
            "属する経営課題の番号",
            "number of the issue the node belongs to (its own code for an issue)",
        ),
        Column("code", "string", "番号(印刷どおり)", "the node's number as printed"),
        Column(
            "position",
            "integer",
            "親の中での順番(新しい版、削除なら古い版)",
            "position under its parent (in the newer version; in the older one if removed)",
        ),
        Column("title", "string", "名称(新しい版、削除なら古い版)", "title (newer version's)"),
        Column(
            "field",
            "string",
            "変わった項目(title, description, budget_thousand_yen, notes, draft …)",
            "which field changed (title, description, budget_thousand_yen, notes, draft …)",
        ),
        Column("old_value", "string", "変更前の値", "value before (text)"),
        Column("new_value", "string", "変更後の値", "value after (text)"),
        Column(
            "old_budget_thousand_yen",
            "integer",
            "変更前の主な予算額(千円)",
            "main amount before, in thousand yen (for removed: the removed node's)",
            unit="千円",
        ),
        Column(
            "new_budget_thousand_yen",
            "integer",
            "変更後の主な予算額(千円)",
            "main amount after, in thousand yen (for added: the added node's)",
            unit="千円",
        ),
    ),
    ("policy_id", "change_no"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two parses of a policy."""

    change: ChangeKind
    level: Level
    issue_code: str | None = None
    code: str | None = None
    position: int | None = None
    title: str | None = None
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    old_budget_thousand_yen: int | None = None
    new_budget_thousand_yen: int | None = None


# --- matching ---------------------------------------------------------------------------

_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−－ー", "-"))


def normalise_code(code: str | None) -> str | None:
    """'１－２' and '1 - 2' → '1-2'; empty → None."""
    if code is None:
        return None
    text = "".join(unicodedata.normalize("NFKC", code).translate(_DASHES).split())
    return text or None


def _text(value: str | None) -> str | None:
    """White space folded, so a re-wrapped line is not a change."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def match_nodes(
    old: Sequence[Node], new: Sequence[Node]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(matched (old, new) index pairs, unmatched old indices, unmatched new indices).

    1. equal normalised codes; 2. equal titles where either side has no code;
    3. equal positions where neither side has a code (an uncoded node retitled)."""
    pairs: list[tuple[int, int]] = []
    old_left, new_left = list(range(len(old))), list(range(len(new)))

    def take(same: Any) -> None:
        for j in list(new_left):
            i = next((i for i in old_left if same(old[i], new[j])), None)
            if i is not None:
                pairs.append((i, j))
                old_left.remove(i)
                new_left.remove(j)

    take(lambda o, n: o.code is not None and normalise_code(o.code) == normalise_code(n.code))
    take(lambda o, n: (o.code is None or n.code is None) and _text(o.title) == _text(n.title))
    take(lambda o, n: o.code is None and n.code is None and o.position == n.position)
    return sorted(pairs, key=lambda pair: pair[1]), old_left, new_left


# --- diffing ----------------------------------------------------------------------------


def _children(node: Node) -> tuple[Level, Sequence[Node]] | None:
    if isinstance(node, Issue):
        return "strategy", node.strategies
    if isinstance(node, Strategy):
        return "initiative", node.initiatives
    return None


def _subtree(kind: ChangeKind, level: Level, node: Node, issue_code: str | None) -> list[Change]:
    """A node and everything under it added or removed, one row each (so per-row budget
    differences still add up)."""
    amount = node.budget_thousand_yen
    rows = [
        Change(
            kind,
            level,
            issue_code=issue_code,
            code=node.code,
            position=node.position,
            title=node.title,
            old_budget_thousand_yen=amount if kind == "removed" else None,
            new_budget_thousand_yen=amount if kind == "added" else None,
        )
    ]
    if (below := _children(node)) is not None:
        for child in below[1]:
            rows += _subtree(kind, below[0], child, issue_code)
    return rows


def _node_changes(level: Level, old: Node, new: Node, issue_code: str | None) -> list[Change]:
    where = Change(
        "retitled", level, issue_code=issue_code, code=new.code, position=new.position,
        title=new.title,
    )  # fmt: skip
    rows = []
    if _text(old.title) != _text(new.title):
        rows.append(replace(where, field="title", old_value=old.title, new_value=new.title))
    if old.budget_thousand_yen != new.budget_thousand_yen:
        rows.append(
            replace(
                where,
                change="budget_changed",
                field="budget_thousand_yen",
                old_budget_thousand_yen=old.budget_thousand_yen,
                new_budget_thousand_yen=new.budget_thousand_yen,
            )
        )
    if _text(old.description) != _text(new.description):
        rows.append(
            replace(
                where,
                change="description_changed",
                field="description",
                old_value=old.description,
                new_value=new.description,
            )
        )
    return rows


def _diff_nodes(
    level: Level, old: Sequence[Node], new: Sequence[Node], issue_code: str | None
) -> list[Change]:
    pairs, removed, _ = match_nodes(old, new)
    matched = dict((j, i) for i, j in pairs)
    rows: list[Change] = []
    for j, node in enumerate(new):
        code = node.code if isinstance(node, Issue) else issue_code
        if j not in matched:
            rows += _subtree("added", level, node, code)
            continue
        before = old[matched[j]]
        rows += _node_changes(level, before, node, code)
        below_old, below_new = _children(before), _children(node)
        if below_old is not None and below_new is not None:
            rows += _diff_nodes(below_new[0], below_old[1], below_new[1], code)
    for i in removed:
        node = old[i]
        rows += _subtree(
            "removed", level, node, node.code if isinstance(node, Issue) else issue_code
        )
    return rows


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _note_changes(old: WardPolicy, new: WardPolicy) -> list[Change]:
    """Notes as a multiset: a note kept (wherever it moved) is no change."""
    old_notes, new_notes = Counter(map(_text, old.notes)), Counter(map(_text, new.notes))
    rows = []
    for note in new.notes:
        if new_notes[_text(note)] > old_notes[_text(note)]:
            new_notes[_text(note)] -= 1
            rows.append(Change("note_added", "policy", field="notes", new_value=note))
    old_notes, new_notes = Counter(map(_text, old.notes)), Counter(map(_text, new.notes))
    for note in old.notes:
        if old_notes[_text(note)] > new_notes[_text(note)]:
            old_notes[_text(note)] -= 1
            rows.append(Change("note_removed", "policy", field="notes", old_value=note))
    return rows


def diff_policies(old: WardPolicy, new: WardPolicy) -> list[Change]:
    """Every change from `old` to `new`: policy fields, then notes, then the issue tree
    (in the newer version's order, removed nodes after the kept ones of their parent)."""
    rows = []
    for name in POLICY_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if (_text(before) if isinstance(before, str) else before) != (
            _text(after) if isinstance(after, str) else after
        ):
            rows.append(
                Change(
                    "field_changed",
                    "policy",
                    field=name,
                    old_value=_as_text(before),
                    new_value=_as_text(after),
                )
            )
    rows += _note_changes(old, new)
    rows += _diff_nodes("issue", old.issues, new.issues, None)
    return rows


# --- the table --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """Two parsed versions to compare, older first."""

    comparison: Comparison
    old: VersionInput
    new: VersionInput


def _parsed(items: Sequence[VersionInput]) -> list[VersionInput]:
    return sorted((item for item in items if item.policy is not None), key=version_order)


def comparisons(items: Sequence[VersionInput]) -> list[Pair]:
    """Consecutive parsed versions of each page, and draft page → final page per policy.

    Unparseable versions are skipped: the versions either side of one are compared."""
    parsed = _parsed(items)
    pairs: list[Pair] = []
    by_url: dict[str, list[VersionInput]] = {}
    for item in parsed:
        by_url.setdefault(item.record.url, []).append(item)
    for versions in by_url.values():
        pairs += [Pair("version", a, b) for a, b in itertools.pairwise(versions)]
    by_policy: dict[str | None, list[VersionInput]] = {}
    for item in parsed:
        by_policy.setdefault(version_policy_id(item), []).append(item)
    for versions in by_policy.values():
        for url in dict.fromkeys(item.record.url for item in versions):
            drafts = [v for v in versions if v.record.url == url and _draft(v)]
            if not drafts:
                continue
            finals: dict[str, VersionInput] = {}
            for v in versions:  # the first final version of every other page
                if v.record.url != url and not _draft(v):
                    finals.setdefault(v.record.url, v)
            pairs += [Pair("draft_to_final", drafts[-1], final) for final in finals.values()]
    return pairs


def _draft(item: VersionInput) -> bool:
    return item.policy is not None and item.policy.draft


def _sha(item: VersionInput) -> str | None:
    return item.record.sha256 or (item.policy.source_sha256 if item.policy else None)


def change_rows(items: Sequence[VersionInput]) -> Iterator[dict[str, Any]]:
    """Rows of the changes table, numbered per policy in the order of the newer version."""
    ordered = sorted(
        comparisons(items),
        key=lambda pair: (version_order(pair.new), version_order(pair.old), pair.comparison),
    )
    numbers: Counter[str] = Counter()
    for pair in ordered:
        assert pair.old.policy is not None and pair.new.policy is not None
        pid = version_policy_id(pair.new)
        assert pid is not None
        base = {
            "policy_id": pid,
            "comparison": pair.comparison,
            "from_path": pair.old.record.path,
            "to_path": pair.new.record.path,
            "from_sha256": _sha(pair.old),
            "to_sha256": _sha(pair.new),
            "from_fetched_at": as_utc(pair.old.record.fetched_at),
            "to_fetched_at": as_utc(pair.new.record.fetched_at),
        }
        for change in diff_policies(pair.old.policy, pair.new.policy):
            numbers[pid] += 1
            yield base | {
                "change_no": numbers[pid],
                "change": change.change,
                "level": change.level,
                "issue_code": change.issue_code,
                "code": change.code,
                "position": change.position,
                "title": change.title,
                "field": change.field,
                "old_value": change.old_value,
                "new_value": change.new_value,
                "old_budget_thousand_yen": change.old_budget_thousand_yen,
                "new_budget_thousand_yen": change.new_budget_thousand_yen,
            }


def changes_table(items: Sequence[VersionInput]) -> pd.DataFrame:
    """The `changes` table from every stored version (parsed) of every page."""
    return make_frame(CHANGES, change_rows(items))
