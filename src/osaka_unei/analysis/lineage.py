"""Lineage: a ward's issues, strategies and initiatives followed from year to year.

Every node (issue, strategy, initiative) of every policy gets a `lineage_id`; the nodes of
one ward and level that carry the same id are the same item over the years, however it was
renamed, renumbered or moved. Linking runs per ward and level, year after year:

1. Each node of year N is scored against the nodes of the latest earlier year that have no
   successor yet; nodes left over then try the year before that (an item may skip one page,
   MAX_GAP_YEARS). Levels run top-down, so a node's parent already has its lineage.
2. Title similarity (`title_similarity`) is the score. A pair may link when the score is
   high on its own (method `title`), or is middling and backed by a second sign: the same
   printed code (`code+title`), parents in the same lineage (`parent`), or a near-identical
   description (`description`).
3. Links are chosen greedily by descending score, one-to-one per year pair; near-equal
   scores are settled by the parent's lineage, then description similarity, then the code.
4. Hand overrides (overrides.py) are applied last; then ids are given.

`lineage_id` is `{ward_slug}-{level}-{first fiscal_year}-{first node's code or pI.S.N}`: it
depends only on the lineage's first node, so a rebuild or another later year renumbers
nothing; with the previous build's table, ids of nodes seen before are kept even when an
earlier year is added.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz

from osaka_unei.analysis.overrides import Override
from osaka_unei.dataset.nodes import LEVELS, node_key, nodes_frame
from osaka_unei.dataset.tables import NODE_COLUMNS, Column, TableSpec

METHODS: tuple[str, ...] = ("title", "code+title", "parent", "description", "manual", "new")

# --- thresholds (scores are 0–1) ---------------------------------------------------------
# Measured on the fixture (tests/fixtures/lineage, hand-labelled): true links score ≥ 0.63,
# the lowest being real rewordings (安全なまちづくり → 災害に強く安全なまちづくり 0.63,
# 防災対策の充実・強化 → 地域防災力の強化 0.66); distinct items of one ward and level score
# ≤ 0.68 (子育てを応援するまちづくり / まなびを応援するまちづくり), shared-word pairs far lower
# (地域防災力の向上 / 地域福祉の向上 0.33, 防災対策の強化 / 防犯対策の強化 0.55).
# The ranges overlap, so a middling score needs a second sign.
# A score this high links on its own: slight renames (向上 → 強化, の moved, brackets
# dropped, a phrase added). Above the highest distinct pair with a margin; a one-kanji
# swap in an otherwise equal title (地域防災の活動支援 / 地域防犯の活動支援 0.77) stays below.
TITLE_LINK = 0.8
# From here up to TITLE_LINK a title links only with a second sign: the same printed code,
# parents in one lineage, or a near-copied description. Below it nothing links on its own
# (an override can still join).
WEAK_LINK = 0.6
# Descriptions of distinct items of one policy score ≤ 0.33 (median 0.17) on the fixture;
# a copied or lightly edited description of the same item scores far higher.
DESCRIPTION_LINK = 0.7
# Scores closer than this are a tie, settled by parent, description and code.
TIE = 0.02
# An item may be missing from one year's page and come back the year after.
MAX_GAP_YEARS = 1
# Descriptions are compared on their first characters: enough to tell items apart, and it
# bounds the cost of long multi-paragraph texts.
DESCRIPTION_CHARS = 300

# Words every title uses ("…の推進", "…まちづくり", 地域…): they say what is done, not to what,
# so two titles sharing only these are not the same item. Longest first (one alternation).
GENERIC_WORDS: tuple[str, ...] = tuple(
    sorted(
        (
            "まちづくり",
            "づくり",
            "取り組み",
            "取組み",
            "取組",
            "に向けた",
            "による",
            "地域",
            "推進",
            "強化",
            "充実",
            "向上",
            "支援",
            "促進",
            "実現",
            "事業",
            "対策",
            "及び",
            "並びに",
        ),
        key=lambda w: (-len(w), w),
    )
)
_GENERIC = re.compile("|".join(re.escape(w) for w in GENERIC_WORDS))
# Brackets, punctuation, spaces (anything not a letter or digit); ・ and 「」 included.
_NON_WORD = re.compile(r"[\W_]+")
# Particles left dangling at either end once generic words are gone (防災力の → 防災力).
_EDGE_PARTICLES = "のへとにをがで"


@functools.lru_cache(maxsize=65536)  # every title is compared with a whole year's titles
def normalize_title(text: str | None) -> str:
    """NFKC, without brackets, punctuation and white space: 「子どもの学び」の応援 → 子どもの学びの応援."""
    if not text:
        return ""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text))


@functools.lru_cache(maxsize=65536)
def title_core(normalized: str) -> str:
    """The title without GENERIC_WORDS: 地域防災力の向上 → 防災力, 地域福祉の推進 → 福祉."""
    return _GENERIC.sub("", normalized).strip(_EDGE_PARTICLES)


def _ratio(a: str, b: str) -> float:
    # Character level (Japanese has no spaces): 2·LCS/(len a + len b), the Indel ratio.
    return fuzz.ratio(a, b) / 100.0


@functools.lru_cache(maxsize=65536)  # shared, never mutated (& and total() copy/read)
def _bigrams(text: str) -> Counter[str]:
    return (
        Counter(text[i : i + 2] for i in range(len(text) - 1)) if len(text) > 1 else Counter([text])
    )


def _dice(a: str, b: str) -> float:
    """Dice overlap of character bigrams. Most content words are two-kanji compounds, so one
    changed kanji (防災 → 防犯) breaks two bigrams where the ratio loses one character."""
    ga, gb = _bigrams(a), _bigrams(b)
    return 2 * (ga & gb).total() / (ga.total() + gb.total())


def title_similarity(a: str | None, b: str | None) -> float:
    """0–1: the mean of the whole normalised titles' ratio and their cores' similarity
    (the mean of ratio and bigram Dice of the titles without GENERIC_WORDS).

    The whole title catches slight rewording; the core keeps 地域防災力の向上 and
    地域福祉の向上 apart (whole 0.67, cores 防災力/福祉 0 → 0.33)."""
    na, nb = normalize_title(a), normalize_title(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    whole = _ratio(na, nb)
    ca, cb = title_core(na), title_core(nb)
    core = (_ratio(ca, cb) + _dice(ca, cb)) / 2 if ca and cb else whole
    return (whole + core) / 2


def description_similarity(a: str | None, b: str | None) -> float:
    """0–1 ratio of the normalised descriptions' beginnings; 0 when either is missing."""
    na = normalize_title(a)[:DESCRIPTION_CHARS]
    nb = normalize_title(b)[:DESCRIPTION_CHARS]
    return _ratio(na, nb) if na and nb else 0.0


# --- nodes --------------------------------------------------------------------------------

# (policy_id, level, issue_position, strategy_position, position): the table's key.
NodeKey = tuple[str, str, int, int | None, int | None]


@dataclass(frozen=True, slots=True)
class Node:
    policy_id: str
    ward_slug: str
    fiscal_year: int
    level: str
    issue_position: int
    strategy_position: int | None
    position: int | None
    code: str | None
    title: str | None
    description: str | None

    @property
    def key(self) -> NodeKey:
        return (
            self.policy_id,
            self.level,
            self.issue_position,
            self.strategy_position,
            self.position,
        )

    @property
    def parent_key(self) -> NodeKey | None:
        if self.level == "issue":
            return None
        if self.level == "strategy":
            return (self.policy_id, "issue", self.issue_position, None, None)
        return (self.policy_id, "strategy", self.issue_position, self.strategy_position, None)

    @property
    def path(self) -> str:
        """Positions as pI.S.N: a name for a node whether or not the page numbers it."""
        parts = [self.issue_position, self.strategy_position, self.position]
        return "p" + ".".join(str(p) for p in parts if p is not None)


def _value(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _int(value: Any) -> int | None:
    value = _value(value)
    return None if value is None else int(value)


def collect_nodes(
    policies: pd.DataFrame,
    issues: pd.DataFrame,
    strategies: pd.DataFrame,
    initiatives: pd.DataFrame,
) -> list[Node]:
    """The core tables → one Node per row, in key order."""
    slugs = {
        str(pid): (str(slug), int(year))
        for pid, slug, year in zip(
            policies["policy_id"], policies["ward_slug"], policies["fiscal_year"], strict=True
        )
    }
    nodes: list[Node] = []
    frame = nodes_frame({"issues": issues, "strategies": strategies, "initiatives": initiatives})
    for row in frame.to_dict("records"):
        pid = str(row["policy_id"])
        if pid not in slugs:
            continue  # the build's checks report orphans; nothing to link them to
        slug, year = slugs[pid]
        level = str(row["level"])
        issue, strategy, position = _internal_positions(
            level, int(row["issue_position"]), _int(row["strategy_position"]), _int(row["position"])
        )
        code = _value(row["code"])
        nodes.append(
            Node(
                policy_id=pid,
                ward_slug=slug,
                fiscal_year=year,
                level=level,
                issue_position=issue,
                strategy_position=strategy,
                position=position,
                code=None if code is None else str(code),
                title=_value(row["title"]),
                description=_value(row["description"]),
            )
        )
    return sorted(nodes, key=_order)


def _order(node: Node) -> tuple[Any, ...]:
    return (
        node.policy_id,
        LEVELS.index(node.level),
        node.issue_position,
        node.strategy_position or 0,
        node.position or 0,
    )


def node_refs(nodes: Iterable[Node]) -> dict[NodeKey, str]:
    """Each node's name within its policy and level: the printed code where it is unique,
    else the positions (pI.S.N). Used in ids, in overrides and in the fixture's labels."""
    counts: dict[tuple[str, str, str], int] = {}
    listed = list(nodes)
    for node in listed:
        if node.code:
            counts[(node.policy_id, node.level, node.code)] = (
                counts.get((node.policy_id, node.level, node.code), 0) + 1
            )
    return {
        node.key: node.code
        if node.code and counts[(node.policy_id, node.level, node.code)] == 1
        else node.path
        for node in listed
    }


# --- linking ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    previous: NodeKey | None
    score: float | None
    method: str


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    method: str
    parent_same: bool
    description: float
    code_same: bool
    current: Node
    previous: Node

    def sort_key(self) -> tuple[Any, ...]:
        return (
            -round(self.score / TIE),
            not self.parent_same,
            -self.description,
            not self.code_same,
            _order(self.current),
            _order(self.previous),
        )


def _roots(nodes: Sequence[Node], links: Mapping[NodeKey, Link]) -> dict[NodeKey, NodeKey]:
    """The first node of each linked node's lineage (links only point to earlier years)."""
    roots: dict[NodeKey, NodeKey] = {}
    for node in sorted(nodes, key=lambda n: n.fiscal_year):
        link = links.get(node.key)
        if link is not None:
            roots[node.key] = node.key if link.previous is None else roots[link.previous]
    return roots


def _candidate(
    current: Node, previous: Node, roots: Mapping[NodeKey, NodeKey]
) -> _Candidate | None:
    if current.title is None and previous.title is None:
        score = 1.0  # two placeholder strategies: only their parents can tell
    else:
        score = title_similarity(current.title, previous.title)
    parent_same = (
        current.parent_key is not None
        and previous.parent_key is not None
        and roots.get(current.parent_key) == roots.get(previous.parent_key)
    )
    description = description_similarity(current.description, previous.description)
    code_same = current.code is not None and current.code == previous.code
    if current.title is None or previous.title is None:
        method = "parent" if parent_same and current.title == previous.title else None
    elif score >= TITLE_LINK:
        method = "title"
    elif score < WEAK_LINK:
        method = None
    elif code_same:
        method = "code+title"
    elif parent_same:
        method = "parent"
    elif description >= DESCRIPTION_LINK:
        method = "description"
    else:
        method = None
    if method is None:
        return None
    return _Candidate(score, method, parent_same, description, code_same, current, previous)


def _match(
    current: Sequence[Node], previous: Sequence[Node], roots: Mapping[NodeKey, NodeKey]
) -> list[_Candidate]:
    """Greedy one-to-one assignment by descending score (with tie-breakers)."""
    candidates = [
        c for cur in current for prev in previous if (c := _candidate(cur, prev, roots)) is not None
    ]
    chosen: list[_Candidate] = []
    used_current: set[NodeKey] = set()
    used_previous: set[NodeKey] = set()
    for candidate in sorted(candidates, key=_Candidate.sort_key):
        if candidate.current.key in used_current or candidate.previous.key in used_previous:
            continue
        chosen.append(candidate)
        used_current.add(candidate.current.key)
        used_previous.add(candidate.previous.key)
    return chosen


def link_nodes(nodes: Sequence[Node]) -> dict[NodeKey, Link]:
    """Automatic links for every node (Link.previous None: it starts a lineage)."""
    links: dict[NodeKey, Link] = {}
    groups: dict[tuple[str, str], dict[int, list[Node]]] = {}
    for node in nodes:
        groups.setdefault((node.ward_slug, node.level), {}).setdefault(node.fiscal_year, []).append(
            node
        )
    for level in LEVELS:  # parents first: the parent tie-breaker needs their lineages
        roots = _roots(nodes, links)
        for (_, group_level), by_year in sorted(groups.items()):
            if group_level != level:
                continue
            has_successor: set[NodeKey] = set()
            years = sorted(by_year)
            for index, year in enumerate(years):
                waiting = list(by_year[year])
                earlier = [y for y in reversed(years[:index]) if year - y - 1 <= MAX_GAP_YEARS]
                for previous_year in earlier:
                    pool = [n for n in by_year[previous_year] if n.key not in has_successor]
                    for c in _match(waiting, pool, roots):
                        links[c.current.key] = Link(c.previous.key, c.score, c.method)
                        has_successor.add(c.previous.key)
                    waiting = [n for n in waiting if n.key not in links]
                for node in waiting:
                    links[node.key] = Link(None, None, "new")
    return links


# --- overrides ----------------------------------------------------------------------------


def apply_overrides(
    nodes: Sequence[Node], links: Mapping[NodeKey, Link], overrides: Iterable[Override]
) -> tuple[dict[NodeKey, Link], list[str]]:
    """Links with the hand overrides applied in order, and one message per unusable row."""
    result = dict(links)
    refs = node_refs(nodes)
    by_ref: dict[tuple[str, str, str], list[Node]] = {}
    for node in nodes:
        by_ref.setdefault((node.policy_id, node.level, refs[node.key]), []).append(node)
        if node.code and refs[node.key] != node.code:  # a repeated code: ambiguous
            by_ref.setdefault((node.policy_id, node.level, node.code), []).append(node)
        if refs[node.key] != node.path:
            by_ref.setdefault((node.policy_id, node.level, node.path), []).append(node)
    errors: list[str] = []

    def find(o: Override, policy: str, ref: str) -> Node | str:
        found = by_ref.get((policy, o.level, ref), [])
        if not found:
            return f"no {o.level} {ref!r} in {policy}"
        if len(found) > 1:
            return f"{o.level} {ref!r} in {policy} is ambiguous; name it by pI.S.N"
        return found[0]

    for o in overrides:
        where = f"lineage override line {o.line} ({o.action})"
        earlier = find(o, o.from_policy_id, o.from_node)
        later = find(o, o.to_policy_id, o.to_node)
        problems = [x for x in (earlier, later) if isinstance(x, str)]
        if problems:
            errors.append(f"{where}: {'; '.join(problems)}")
            continue
        assert isinstance(earlier, Node) and isinstance(later, Node)
        if {earlier.ward_slug, later.ward_slug} != {o.ward_slug}:
            errors.append(f"{where}: nodes are not both of ward {o.ward_slug!r}")
            continue
        if earlier.fiscal_year >= later.fiscal_year:
            errors.append(f"{where}: {o.from_policy_id} is not earlier than {o.to_policy_id}")
            continue
        if o.action == "split":
            if result[later.key].previous != earlier.key:
                errors.append(f"{where}: {o.to_node} is not linked from {o.from_node}")
                continue
            result[later.key] = Link(None, None, "manual")
            continue
        for key, link in list(result.items()):  # join: cut the earlier node's successor
            if link.previous == earlier.key:
                result[key] = Link(None, None, "manual")
        score = title_similarity(later.title, earlier.title)
        result[later.key] = Link(earlier.key, score, "manual")
    return result, errors


# --- ids ------------------------------------------------------------------------------------


def _chains(nodes: Sequence[Node], links: Mapping[NodeKey, Link]) -> list[list[Node]]:
    """Lineages as lists of nodes, earliest first, in the order of their first node."""
    by_key = {node.key: node for node in nodes}
    successor = {link.previous: key for key, link in links.items() if link.previous is not None}
    chains: list[list[Node]] = []
    for node in sorted(nodes, key=lambda n: (n.fiscal_year, _order(n))):
        if links[node.key].previous is not None:
            continue
        chain = [node]
        while (following := successor.get(chain[-1].key)) is not None and len(chain) < 1000:
            chain.append(by_key[following])
        chains.append(chain)
    return chains


def fresh_id(node: Node, ref: str) -> str:
    return f"{node.ward_slug}-{node.level}-{node.fiscal_year}-{ref}"


def assign_ids(
    nodes: Sequence[Node],
    links: Mapping[NodeKey, Link],
    previous_ids: Mapping[NodeKey, str] | None = None,
) -> dict[NodeKey, str]:
    """lineage_id of every node. A lineage keeps an id a previous build gave one of its nodes
    (the earliest such node's, first come first served); otherwise it is named by its
    first node. A name already taken gets ~2, ~3 …"""
    refs = node_refs(nodes)
    previous_ids = previous_ids or {}
    chains = _chains(nodes, links)
    names: dict[int, str] = {}
    taken: set[str] = set()
    claims = sorted(
        (
            (node.fiscal_year, _order(node), index, previous_ids[node.key])
            for index, chain in enumerate(chains)
            for node in chain
            if node.key in previous_ids
        ),
    )
    for _, _, index, old in claims:
        if index not in names and old not in taken:
            names[index] = old
            taken.add(old)
    for index, chain in enumerate(chains):
        if index in names:
            continue
        base = fresh_id(chain[0], refs[chain[0].key])
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}~{n}"
        names[index] = name
        taken.add(name)
    return {node.key: names[index] for index, chain in enumerate(chains) for node in chain}


# --- the table ------------------------------------------------------------------------------

LINEAGE = TableSpec(
    "lineage",
    "項目の系譜(経営課題・戦略・具体的取組を年度をまたいでつなぐ)",
    "lineage: each issue, strategy and initiative linked to the same item in earlier years",
    (
        *NODE_COLUMNS,
        Column("ward_slug", "string", "区のディレクトリ名", "ward slug", required=True),
        Column("fiscal_year", "integer", "年度(西暦)", "fiscal year (Gregorian)", required=True),
        Column("title", "string", "名称", "title"),
        Column(
            "lineage_id",
            "string",
            "系譜ID(最初の年度の項目から決まり、再構築でも変わらない)",
            "lineage id: {ward_slug}-{level}-{first fiscal_year}-{first code or pI.S.N}; "
            "stable across rebuilds",
            required=True,
        ),
        Column(
            "linked_from",
            "string",
            "つながる前年度以前の運営方針ID(系譜の始まりは空)",
            "policy_id of the earlier year this node continues; null where a lineage starts",
        ),
        Column(
            "score",
            "number",
            "前の項目との名称の類似度(0〜1)",
            "title similarity to the linked earlier node, 0–1; null where none",
        ),
        Column(
            "method",
            "string",
            "つないだ根拠",
            "why linked: title, code+title, parent, description, manual (an override), "
            "new (starts a lineage)",
            required=True,
            enum=METHODS,
        ),
    ),
    ("policy_id", "node_key"),
)

_INT_COLUMNS = ("issue_position", "strategy_position", "position", "fiscal_year")


def _previous_ids(previous: pd.DataFrame | None) -> dict[NodeKey, str]:
    if previous is None or previous.empty:
        return {}
    return {
        (
            str(row["policy_id"]),
            str(row["level"]),
            *_internal_positions(
                str(row["level"]),
                int(row["issue_position"]),
                _int(row["strategy_position"]),
                _int(row["position"]),
            ),
        ): str(row["lineage_id"])
        for row in previous.to_dict("records")
    }


# Inside this module a strategy's own position is its strategy_position; in the tables it
# is `position`, as in the strategies table (see dataset.tables.NODE_COLUMNS).
def _table_positions(
    level: str, issue: int, strategy: int | None, position: int | None
) -> tuple[int, int | None, int | None]:
    return (issue, None, strategy) if level == "strategy" else (issue, strategy, position)


def _internal_positions(
    level: str, issue: int, strategy: int | None, position: int | None
) -> tuple[int, int | None, int | None]:
    return (issue, position, None) if level == "strategy" else (issue, strategy, position)


def build_lineage(
    policies: pd.DataFrame,
    issues: pd.DataFrame,
    strategies: pd.DataFrame,
    initiatives: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    overrides: Iterable[Override] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """The core tables (+ the previous build's lineage table, + overrides) → the lineage
    table (LINEAGE columns, sorted by level and key) and one message per unusable override."""
    nodes = collect_nodes(policies, issues, strategies, initiatives)
    links, errors = apply_overrides(nodes, link_nodes(nodes), overrides)
    ids = assign_ids(nodes, links, _previous_ids(previous))
    by_key = {node.key: node for node in nodes}
    rows = []
    for node in nodes:
        link = links[node.key]
        rows.append(
            {
                "policy_id": node.policy_id,
                "level": node.level,
                **dict(
                    zip(
                        ("issue_position", "strategy_position", "position"),
                        positions := _table_positions(
                            node.level, node.issue_position, node.strategy_position, node.position
                        ),
                        strict=True,
                    )
                ),
                "node_key": node_key(*(p for p in positions if p is not None)),
                "code": node.code,
                "ward_slug": node.ward_slug,
                "fiscal_year": node.fiscal_year,
                "title": node.title,
                "lineage_id": ids[node.key],
                "linked_from": None if link.previous is None else by_key[link.previous].policy_id,
                "score": None if link.score is None else round(link.score, 4),
                "method": link.method,
            }
        )
    return lineage_frame(rows), errors


def lineage_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=LINEAGE.names)
    for column in _INT_COLUMNS:
        df[column] = df[column].astype("Int64")
    df["score"] = df["score"].astype("float64")
    for column in LINEAGE.names:
        if column not in _INT_COLUMNS and column != "score":
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df.reset_index(drop=True)


# --- evaluation -----------------------------------------------------------------------------

# ((ward_slug, level, fiscal_year, ref), (previous fiscal_year, previous ref))
LinkLabel = tuple[tuple[str, str, int, str], tuple[int, str]]


def predicted_links(lineage: pd.DataFrame) -> set[LinkLabel]:
    """The links of a lineage table, each node named as in labels.csv (code or pI.S.N)."""
    nodes = [
        Node(
            policy_id=str(r["policy_id"]),
            ward_slug=str(r["ward_slug"]),
            fiscal_year=int(r["fiscal_year"]),
            level=str(r["level"]),
            issue_position=int(r["issue_position"]),
            strategy_position=_int(r["strategy_position"]),
            position=_int(r["position"]),
            code=_value(r["code"]),
            title=None,
            description=None,
        )
        for r in lineage.to_dict("records")
    ]
    refs = node_refs(nodes)
    located = {
        (str(r["lineage_id"]), str(r["policy_id"])): node
        for r, node in zip(lineage.to_dict("records"), nodes, strict=True)
    }
    links: set[LinkLabel] = set()
    for r, node in zip(lineage.to_dict("records"), nodes, strict=True):
        source = _value(r["linked_from"])
        if source is None:
            continue
        earlier = located[(str(r["lineage_id"]), str(source))]
        links.add(
            (
                (node.ward_slug, node.level, node.fiscal_year, refs[node.key]),
                (earlier.fiscal_year, refs[earlier.key]),
            )
        )
    return links


def read_labels(path: Path) -> set[LinkLabel]:
    """labels.csv → the true links (rows without a previous node are lineage starts)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            (
                (row["ward_slug"], row["level"], int(row["fiscal_year"]), row["node"]),
                (int(row["prev_fiscal_year"]), row["prev_node"]),
            )
            for row in csv.DictReader(handle)
            if row["prev_fiscal_year"]
        }


def evaluate(predicted: set[LinkLabel], truth: set[LinkLabel]) -> tuple[float, float]:
    """(precision, recall) of predicted links against the true ones (1.0 when empty)."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def load_fixture_tables(path: Path) -> dict[str, pd.DataFrame]:
    """tables.json of the lineage fixture → DataFrames like the core tables."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: pd.DataFrame(rows) for name, rows in data.items()}


def fixture_scores(fixture_dir: Path) -> dict[str, float]:
    """Precision and recall of the linker on a labelled fixture (tables.json + labels.csv),
    for the bench: {"precision", "recall", "links", "true_links"}."""
    tables = load_fixture_tables(fixture_dir / "tables.json")
    lineage, _ = build_lineage(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"]
    )
    predicted = predicted_links(lineage)
    truth = read_labels(fixture_dir / "labels.csv")
    precision, recall = evaluate(predicted, truth)
    return {
        "precision": precision,
        "recall": recall,
        "links": float(len(predicted)),
        "true_links": float(len(truth)),
    }
