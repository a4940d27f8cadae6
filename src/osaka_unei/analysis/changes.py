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
from osaka_unei.dataset.tables import table_spec
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

CHANGES = table_spec("changes")  # its columns: dataset/columns.toml


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


# --- the CLI view -----------------------------------------------------------------------

_LEVEL_JA = {"issue": "経営課題", "strategy": "戦略", "initiative": "取組"}
_KIND_LABEL = {
    "added": "added",
    "removed": "removed",
    "retitled": "retitled",
    "budget_changed": "budget",
    "description_changed": "description",
    "note_added": "note +",
    "note_removed": "note -",
    "field_changed": "field",
}


def _missing(value: object) -> bool:
    """None, pd.NA or NaN: how a null cell comes back from a frame."""
    return bool(pd.isna(value))


def _clip(text: object, width: int = 48) -> str:
    if _missing(text):
        return "–"
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _yen(amount: object) -> str:
    return "–" if _missing(amount) else f"{int(str(amount)):,}"


def _node_name(row: pd.Series) -> str:
    label = _LEVEL_JA.get(row["level"], row["level"])
    code = row["code"]
    if not _missing(code):
        return f"{label}{code}"
    where = "" if _missing(row["issue_code"]) else f" (経営課題{row['issue_code']})"
    return f"{label}#{row['position']}{where}"


def _change_line(row: pd.Series) -> str:
    kind = row["change"]
    head = f"  {_KIND_LABEL[kind]:<11} "
    if kind == "field_changed":
        return f"{head}{row['field']}: {_clip(row['old_value'])} → {_clip(row['new_value'])}"
    if kind == "note_added":
        return f"{head}{_clip(row['new_value'], 70)}"
    if kind == "note_removed":
        return f"{head}{_clip(row['old_value'], 70)}"
    name = f"{_node_name(row)} {_clip(row['title'], 36)}"
    if kind == "budget_changed":
        old, new = row["old_budget_thousand_yen"], row["new_budget_thousand_yen"]
        delta = "" if _missing(old) or _missing(new) else f" ({int(new) - int(old):+,})"
        return f"{head}{name}: {_yen(old)} → {_yen(new)} 千円{delta}"
    if kind == "retitled":
        return f"{head}{_node_name(row)}: {_clip(row['old_value'], 36)} → {_clip(row['new_value'], 36)}"
    if kind == "description_changed":
        return f"{head}{name}"
    amount = row["new_budget_thousand_yen"] if kind == "added" else row["old_budget_thousand_yen"]
    return f"{head}{name}" + ("" if _missing(amount) else f" ({_yen(amount)} 千円)")


def _version_line(number: int, row: pd.Series) -> str:
    published = "–" if _missing(row["published"]) else f"{row['published']:%Y-%m-%d}"
    title = "(unparseable)" if _missing(row["title"]) else _clip(row["title"], 30)
    current = "  ← current" if row["is_current"] else ""
    return (
        f"  {number}. fetched {row['fetched_at']:%Y-%m-%d}, page date {published}, "
        f"page {row['page_id'] if not _missing(row['page_id']) else '?'}: {title}, "
        f"{_yen(row['total_budget_thousand_yen'])} 千円, {_notes(row)}"
        f" [{row['parse_status']}]{current}"
    )


def _notes(row: pd.Series) -> str:
    count = row["n_status_notes"]
    return "notes –" if _missing(count) else f"{int(count)} note{'s' if count != 1 else ''}"


def render_changes(changes: pd.DataFrame, versions: pd.DataFrame, policy_id: str) -> str:
    """A readable account of one policy's versions and what changed between them."""
    mine = versions[versions["policy_id"] == policy_id].sort_values(["fetched_at", "path"])
    if mine.empty:
        return f"{policy_id}: no stored version."
    lines = [f"{policy_id}: {len(mine)} stored version{'s' if len(mine) != 1 else ''}"]
    lines += [_version_line(n, row) for n, (_, row) in enumerate(mine.iterrows(), start=1)]
    if len(mine) == 1:
        lines.append("Only one version is stored: there is nothing to compare yet.")
        return "\n".join(lines)
    rows = changes[changes["policy_id"] == policy_id].sort_values("change_no")
    if rows.empty:
        lines.append("No differences between the stored versions' parsed content.")
        return "\n".join(lines)
    groups = rows.groupby(
        ["to_fetched_at", "from_fetched_at", "comparison", "from_path", "to_path"], sort=False
    )
    for (to_at, from_at, comparison, _, _), group in groups:
        label = "draft page → final page" if comparison == "draft_to_final" else "version"
        lines.append("")
        lines.append(
            f"{label}: fetched {from_at:%Y-%m-%d} → {to_at:%Y-%m-%d} "
            f"({len(group)} change{'s' if len(group) != 1 else ''})"
        )
        lines += [_change_line(row) for _, row in group.iterrows()]
    return "\n".join(lines)
