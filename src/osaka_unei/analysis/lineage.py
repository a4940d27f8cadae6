"""Lineage: a ward's issues, strategies and initiatives followed from year to year.

Every node (issue, strategy, initiative) of every policy gets a `lineage_id`; the nodes of
one ward and level that carry the same id are the same item over the years, however it was
renamed, renumbered or moved. Linking runs per ward and level, year after year:

1. Each node of year N is scored against the nodes of the latest earlier year that have no
   successor yet; nodes left over then try the year before that (an item may skip one page,
   MAX_GAP_YEARS). Levels run top-down, so a node's parent already has its lineage.
2. Title similarity (`title_similarity`, on the titles as printed and with the site's usual
   rewordings undone, rewordings.py) is the score. A pair may link when the score is high
   on its own (method `title`), or is middling and backed by a second sign: the same
   printed code (`code+title`), parents in the same lineage (`parent`), a near-identical
   description (`description`), one continuing descendant (`children`) or, between issues,
   a theme of their own (`theme`).
3. The structure: a node whose descendants mostly continue the descendants of one earlier
   node links to it whatever its title (`children`, Structure: by count and by amount);
   between issues, a theme no other issue of either year carries backs a title from
   THEME_FLOOR (`theme`). The structure is read from a first pass's links, and linking runs
   again until nothing changes.
4. Links are chosen greedily by descending score, one-to-one per year pair; near-equal
   scores are settled by the parent's lineage, the children, description similarity, then
   the code. Never on position or code alone.
5. Hand overrides (overrides.py) are applied last; then ids are given. The candidates that
   fell short are the review queue (LINEAGE_CANDIDATES, `osaka-unei lineage review`).

`lineage_id` is `{ward_slug}-{level}-{first fiscal_year}-{first node's code or pI.S.N}`: it
depends only on the lineage's first node, so a rebuild or another later year renumbers
nothing; with the previous build's table, ids of nodes seen before are kept even when an
earlier year is added.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

import pandas as pd
from rapidfuzz import fuzz

from osaka_unei.analysis.overrides import Override
from osaka_unei.analysis.rewordings import MIN_CANONICAL, canonical_title, scope_pair
from osaka_unei.analysis.themes import match_themes
from osaka_unei.dataset.nodes import LEVELS, node_key, nodes_frame
from osaka_unei.dataset.tables import table_spec
from osaka_unei.dataset.values import clean, int_or_none

METHODS: tuple[str, ...] = (
    "title",
    "code+title",
    "parent",
    "description",
    "children",
    "theme",
    "manual",
    "new",
)

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
# Structure: a node whose descendants (strategies, initiatives) continue the descendants of
# one earlier node continues that node. More than this share of the descendants must agree
# on both sides (by count, averaged with the share by amount where both print amounts) ...
CHILDREN_SHARE = 0.5
# ... and this many agreeing descendants decide alone (any title); one agreeing descendant
# is a second sign for a middling title, as a parent is.
CHILDREN_MIN = 2
# Themes (the codebook's keywords in the titles) are a weak sign, between issues only (an
# issue has no parent; below, the parent is the sign): a title from here up to WEAK_LINK
# links when both issues carry a theme that no other issue of either year carries. Tuned on
# the real pairs' tune split (tests/fixtures/lineage/real): reworded issues with a theme of
# their own score from 0.31 (つながるまちの実現 → 人と人がつながり にぎわいと魅力あふれる
# まちづくり) and 0.33 (安全・安心のまちづくり → 防災のまちづくり) up; no distinct pair of
# issues there shares a theme of its own at any score. Below 0.3 (暮らしを守る福祉等の向上 →
# 区民一人ひとりの生活に寄り添った福祉・健康施策の推進, 0.13) only the children can tell.
THEME_FLOOR = 0.3
# Structure found in one round lets more nodes link in the next (by their parent): rounds.
STRUCTURE_ROUNDS = 3
# Near misses for the review queue: candidates from this title score up (or with a
# descendant or a theme of their own in common), at most this many per node.
REVIEW_FLOOR = 0.35
REVIEW_PER_NODE = 3
# Descriptions are compared on their first characters: enough to tell items apart, and it
# bounds the cost of long multi-paragraph texts.
DESCRIPTION_CHARS = 300

# Words every title uses ("…の推進", "…まちづくり", 地域…), as data (generic_words.toml):
# two titles sharing only these are not the same item. Longest first (one alternation).
GENERIC_WORDS: tuple[str, ...] = tuple(
    sorted(
        (
            entry["word"]
            for entry in tomllib.loads(
                resources.files("osaka_unei.analysis")
                .joinpath("generic_words.toml")
                .read_text("utf-8")
            )["words"]
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
    if len(ga) > len(gb):
        ga, gb = gb, ga
    common = sum(min(n, gb[gram]) for gram, n in ga.items() if gram in gb)
    return 2 * common / (max(len(a) - 1, 1) + max(len(b) - 1, 1))


def _similarity(na: str, nb: str) -> float:
    if na == nb:
        return 1.0
    whole = _ratio(na, nb)
    ca, cb = title_core(na), title_core(nb)
    core = (_ratio(ca, cb) + _dice(ca, cb)) / 2 if ca and cb else whole
    return (whole + core) / 2


@functools.lru_cache(maxsize=262144)  # every pair is scored again in a structure round
def title_similarity(a: str | None, b: str | None) -> float:
    """0–1: the mean of the whole normalised titles' ratio and their cores' similarity
    (the mean of ratio and bigram Dice of the titles without GENERIC_WORDS), taken on the
    titles as printed and on their canonical forms (the site's usual rewordings undone,
    rewordings.py), whichever is higher: 安全・安心のまちづくり and 安全で安心なまち are one
    canonical title (1.0).

    The whole title catches slight rewording; the core keeps 地域防災力の向上 and
    地域福祉の向上 apart (whole 0.67, cores 防災力/福祉 0 → 0.33)."""
    na, nb = normalize_title(a), normalize_title(b)
    if not na or not nb:
        return 0.0
    printed = _similarity(na, nb)
    if printed == 1.0:
        return 1.0
    pa, pb = scope_pair(a, b)
    ca, cb = normalize_title(canonical_title(pa)), normalize_title(canonical_title(pb))
    if len(ca) < MIN_CANONICAL or len(cb) < MIN_CANONICAL:
        return printed
    return max(printed, _similarity(ca, cb))


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
    amount: float | None = None  # the node's main amount (千円), null where none is printed

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


def collect_nodes(
    policies: pd.DataFrame,
    issues: pd.DataFrame,
    strategies: pd.DataFrame,
    initiatives: pd.DataFrame,
    frame: pd.DataFrame | None = None,
) -> list[Node]:
    """The core tables → one Node per row, in key order. `frame`: their nodes_frame, if
    the caller has it."""
    slugs = {
        str(pid): (str(slug), int(year))
        for pid, slug, year in zip(
            policies["policy_id"], policies["ward_slug"], policies["fiscal_year"], strict=True
        )
    }
    nodes: list[Node] = []
    if frame is None:
        levels = {"issues": issues, "strategies": strategies, "initiatives": initiatives}
        frame = nodes_frame(levels)
    for row in frame.to_dict("records"):
        pid = str(row["policy_id"])
        if pid not in slugs:
            continue  # the build's checks report orphans; nothing to link them to
        slug, year = slugs[pid]
        level = str(row["level"])
        issue, strategy, position = _internal_positions(
            level,
            int(row["issue_position"]),
            int_or_none(row["strategy_position"]),
            int_or_none(row["position"]),
        )
        code = clean(row["code"])
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
                title=clean(row["title"]),
                description=clean(row["description"]),
                amount=None if (a := clean(row["budget_thousand_yen"])) is None else float(a),
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
class Structure:
    """How far two nodes' descendants (strategies, initiatives) continue one another: `agree`
    descendants of the later node link to descendants of the earlier one; `share` is the
    smaller of the two sides' shares of their descendants that agree (by count, averaged with
    the share by amount where both sides print amounts)."""

    agree: int
    share: float

    @property
    def decides(self) -> bool:
        return self.agree >= CHILDREN_MIN and self.share > CHILDREN_SHARE

    @property
    def supports(self) -> bool:
        return self.agree >= 1 and self.share > CHILDREN_SHARE


NO_STRUCTURE = Structure(0, 0.0)


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    method: str | None  # None: a near miss
    parent_same: bool
    description: float
    code_same: bool
    structure: Structure
    theme: bool
    current: Node
    previous: Node

    def sort_key(self) -> tuple[Any, ...]:
        return (
            -round(self.score / TIE),
            not self.parent_same,
            -self.structure.share,
            -self.description,
            not self.code_same,
            _order(self.current),
            _order(self.previous),
        )


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A candidate link the linker did not make, for the review queue (lineage_candidates)."""

    current: Node
    previous: Node
    score: float
    structure: Structure
    theme: bool
    parent_same: bool | None  # None for issues (no parent)
    reason: str


def _roots(nodes: Sequence[Node], links: Mapping[NodeKey, Link]) -> dict[NodeKey, NodeKey]:
    """The first node of each linked node's lineage (links only point to earlier years)."""
    roots: dict[NodeKey, NodeKey] = {}
    for node in sorted(nodes, key=lambda n: n.fiscal_year):
        link = links.get(node.key)
        if link is not None:
            roots[node.key] = node.key if link.previous is None else roots[link.previous]
    return roots


@functools.lru_cache(maxsize=65536)
def _themes(title: str | None) -> frozenset[str]:
    return frozenset(match_themes(title)) if title else frozenset()


def _unique_themes(nodes: Sequence[Node]) -> set[str]:
    counts = Counter(theme for node in nodes for theme in _themes(node.title))
    return {theme for theme, n in counts.items() if n == 1}


def _ancestors(node: Node) -> list[NodeKey]:
    """The node's parent and grandparent keys (an initiative has both, a strategy one)."""
    keys: list[NodeKey] = []
    if node.level == "initiative":
        keys.append((node.policy_id, "strategy", node.issue_position, node.strategy_position, None))
    if node.level != "issue":
        keys.append((node.policy_id, "issue", node.issue_position, None, None))
    return keys


def structure_evidence(
    nodes: Sequence[Node], links: Mapping[NodeKey, Link]
) -> dict[tuple[NodeKey, NodeKey], Structure]:
    """(later node, earlier node) → how far their descendants continue one another, for every
    pair of issues or strategies with at least one linked descendant in common."""
    by_key = {node.key: node for node in nodes}
    count: Counter[NodeKey] = Counter()
    amount: dict[NodeKey, float] = {}
    for node in nodes:
        for ancestor in _ancestors(node):
            count[ancestor] += 1
            if node.amount is not None:
                amount[ancestor] = amount.get(ancestor, 0.0) + node.amount
    agree: Counter[tuple[NodeKey, NodeKey]] = Counter()
    agree_cur: dict[tuple[NodeKey, NodeKey], float] = {}
    agree_prev: dict[tuple[NodeKey, NodeKey], float] = {}
    for node in nodes:
        link = links.get(node.key)
        if link is None or link.previous is None or link.previous not in by_key:
            continue
        earlier = by_key[link.previous]
        for pair in zip(_ancestors(node), _ancestors(earlier), strict=False):
            agree[pair] += 1
            if node.amount is not None and earlier.amount is not None:
                agree_cur[pair] = agree_cur.get(pair, 0.0) + node.amount
                agree_prev[pair] = agree_prev.get(pair, 0.0) + earlier.amount
    result: dict[tuple[NodeKey, NodeKey], Structure] = {}
    for (cur, prev), n in agree.items():
        shares = []
        for side, agreed in ((cur, agree_cur), (prev, agree_prev)):
            share = n / count[side]
            if amount.get(cur) and amount.get(prev):  # both sides print amounts
                share = (share + agreed.get((cur, prev), 0.0) / amount[side]) / 2
            shares.append(share)
        result[(cur, prev)] = Structure(n, min(shares))
    return result


def _candidate(
    current: Node,
    previous: Node,
    roots: Mapping[NodeKey, NodeKey],
    structure: Structure = NO_STRUCTURE,
    theme: bool = False,
) -> _Candidate:
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
    method: str | None
    if current.title is None or previous.title is None:
        method = "parent" if parent_same and current.title == previous.title else None
    elif score >= TITLE_LINK:
        method = "title"
    elif score >= WEAK_LINK and code_same:
        method = "code+title"
    elif score >= WEAK_LINK and parent_same:
        method = "parent"
    elif score >= WEAK_LINK and description >= DESCRIPTION_LINK:
        method = "description"
    elif structure.decides or (score >= WEAK_LINK and structure.supports):
        method = "children"
    elif score >= THEME_FLOOR and theme:
        method = "theme"
    else:
        method = None
    return _Candidate(
        score, method, parent_same, description, code_same, structure, theme, current, previous
    )


def _near(candidate: _Candidate) -> bool:
    """Worth a curator's look: a title not far off, or a descendant or a theme in common."""
    return (
        candidate.score >= REVIEW_FLOOR or candidate.structure.agree > 0 or candidate.theme
    ) and (candidate.current.title is not None and candidate.previous.title is not None)


def _match(
    current: Sequence[Node],
    previous: Sequence[Node],
    roots: Mapping[NodeKey, NodeKey],
    structure: Mapping[tuple[NodeKey, NodeKey], Structure],
) -> tuple[list[_Candidate], list[_Candidate]]:
    """Greedy one-to-one assignment by descending score (with tie-breakers), and the near
    misses (candidates without a method, or beaten to a node by a better one)."""
    # Themes stand in for the parent an issue does not have: below the issues, the parent
    # is the sign (地域防災の活動支援 → 地域防犯の活動支援 links only under one parent).
    unique = (
        _unique_themes(current) & _unique_themes(previous)
        if current and current[0].level == "issue"
        else set()
    )
    candidates = [
        _candidate(
            cur,
            prev,
            roots,
            structure.get((cur.key, prev.key), NO_STRUCTURE),
            bool(_themes(cur.title) & _themes(prev.title) & unique),
        )
        for cur in current
        for prev in previous
    ]
    chosen: list[_Candidate] = []
    near: list[_Candidate] = []
    used_current: set[NodeKey] = set()
    used_previous: set[NodeKey] = set()
    for candidate in sorted(candidates, key=_Candidate.sort_key):
        taken = candidate.current.key in used_current or candidate.previous.key in used_previous
        if candidate.method is None or taken:
            if _near(candidate):
                near.append(candidate)
            continue
        chosen.append(candidate)
        used_current.add(candidate.current.key)
        used_previous.add(candidate.previous.key)
    return chosen, near


def _link_once(
    nodes: Sequence[Node], structure: Mapping[tuple[NodeKey, NodeKey], Structure]
) -> tuple[dict[NodeKey, Link], list[_Candidate]]:
    links: dict[NodeKey, Link] = {}
    near: list[_Candidate] = []
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
                    chosen, missed = _match(waiting, pool, roots, structure)
                    for c in chosen:
                        links[c.current.key] = Link(c.previous.key, c.score, c.method)  # type: ignore[arg-type]  # _match chooses only candidates with a method
                        has_successor.add(c.previous.key)
                    near += missed
                    waiting = [n for n in waiting if n.key not in links]
                for node in waiting:
                    links[node.key] = Link(None, None, "new")
    return links, near


def link_nodes(nodes: Sequence[Node]) -> dict[NodeKey, Link]:
    """Automatic links for every node (Link.previous None: it starts a lineage)."""
    return link_with_near_misses(nodes)[0]


def link_with_near_misses(nodes: Sequence[Node]) -> tuple[dict[NodeKey, Link], list[NearMiss]]:
    """Automatic links for every node, and the near misses: candidates left unlinked.

    Each ward on its own (its lineage is a function of its own pages: a build redoes only the
    wards that changed, publish.units): titles first; then the structure read from those
    links (a node whose descendants continue those of one earlier node continues it),
    linking again until nothing changes (STRUCTURE_ROUNDS at most: a parent linked by its
    children lets more children link by their parent)."""
    by_ward: dict[str, list[Node]] = {}
    for node in nodes:
        by_ward.setdefault(node.ward_slug, []).append(node)
    links: dict[NodeKey, Link] = {}
    near: list[NearMiss] = []
    for ward in sorted(by_ward):
        ward_links, ward_near = _link_ward(by_ward[ward])
        links |= ward_links
        near += ward_near
    return links, sorted(near, key=lambda m: _order(m.current))  # stable: likeliest first


def _link_ward(nodes: Sequence[Node]) -> tuple[dict[NodeKey, Link], list[NearMiss]]:
    links, near = _link_once(nodes, {})
    for _ in range(STRUCTURE_ROUNDS):
        structure = structure_evidence(nodes, links)
        successors = {link.previous for link in links.values() if link.previous is not None}
        hopeful = any(
            found.supports and links[cur].previous is None and prev not in successors
            for (cur, prev), found in structure.items()
        )
        if not hopeful:  # nothing the structure could add: no second pass
            break
        again, near_again = _link_once(nodes, structure)
        if all(links[key] == link for key, link in again.items()):
            break
        links |= again
        near = near_again
    return links, _near_misses(links, near, structure_evidence(nodes, links))


def _near_misses(
    links: Mapping[NodeKey, Link],
    near: Iterable[_Candidate],
    structure: Mapping[tuple[NodeKey, NodeKey], Structure],
) -> list[NearMiss]:
    """The near misses of nodes left without a predecessor, to earlier nodes left without a
    successor: at most REVIEW_PER_NODE per node, the likeliest first."""
    successors = {link.previous for link in links.values() if link.previous is not None}
    per_node: dict[NodeKey, list[_Candidate]] = {}
    seen: set[tuple[NodeKey, NodeKey]] = set()
    for c in near:
        pair = (c.current.key, c.previous.key)
        if links[c.current.key].previous is not None or c.previous.key in successors:
            continue
        if pair in seen:
            continue
        seen.add(pair)
        per_node.setdefault(c.current.key, []).append(c)
    result: list[NearMiss] = []
    for candidates in per_node.values():
        found = {
            id(c): structure.get((c.current.key, c.previous.key), c.structure) for c in candidates
        }
        ranked = sorted(  # descendants in common, then a theme of their own, then the title
            candidates,
            key=lambda c: (-found[id(c)].agree, not c.theme, -c.score, _order(c.previous)),
        )[:REVIEW_PER_NODE]
        result += [
            NearMiss(
                c.current,
                c.previous,
                c.score,
                found[id(c)],
                c.theme,
                None if c.current.level == "issue" else c.parent_same,
                _reason(c, found[id(c)]),
            )
            for c in ranked
        ]
    return sorted(result, key=lambda m: _order(m.current))  # stable: likeliest first per node


def _reason(c: _Candidate, structure: Structure) -> str:
    """Why the candidate fell short, in a few words (shown to curators: Japanese)."""
    if c.method is not None:
        return "ほかの候補が先につながった"
    if structure.agree and not structure.supports:
        return f"下位項目 {structure.agree} 件が一致、割合 {structure.share:.2f} ≤ {CHILDREN_SHARE}"
    if c.current.level != "issue":  # below the issues: the parent is the second sign
        if c.score < WEAK_LINK:
            return f"名称の類似度 {c.score:.2f} < {WEAK_LINK}"
        return f"名称の類似度 {c.score:.2f} < {TITLE_LINK}、ほかの根拠なし"
    if c.score < THEME_FLOOR:
        return f"名称の類似度 {c.score:.2f} < {THEME_FLOOR}"
    if c.score < WEAK_LINK:
        return f"名称の類似度 {c.score:.2f} < {WEAK_LINK}、両方だけに共通するテーマなし"
    return f"名称の類似度 {c.score:.2f} < {TITLE_LINK}、ほかの根拠なし"


# --- overrides ----------------------------------------------------------------------------


class OverrideMessage(NamedTuple):
    """Why an override row was not applied, and the ward it names (a build keeps each
    ward's messages with its rows)."""

    ward_slug: str
    text: str


def apply_overrides(
    nodes: Sequence[Node],
    links: Mapping[NodeKey, Link],
    overrides: Iterable[Override],
    apart: set[tuple[NodeKey, NodeKey]] | None = None,
) -> tuple[dict[NodeKey, Link], list[OverrideMessage]]:
    """Links with the hand overrides applied in order, and one message per unusable row.
    The (later, earlier) pairs of `apart` rows are added to `apart` where it is given."""
    result = dict(links)
    refs = node_refs(nodes)
    by_ref: dict[tuple[str, str, str], list[Node]] = {}
    for node in nodes:
        by_ref.setdefault((node.policy_id, node.level, refs[node.key]), []).append(node)
        if node.code and refs[node.key] != node.code:  # a repeated code: ambiguous
            by_ref.setdefault((node.policy_id, node.level, node.code), []).append(node)
        if refs[node.key] != node.path:
            by_ref.setdefault((node.policy_id, node.level, node.path), []).append(node)
    errors: list[OverrideMessage] = []

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
            errors.append(OverrideMessage(o.ward_slug, f"{where}: {'; '.join(problems)}"))
            continue
        assert isinstance(earlier, Node) and isinstance(later, Node)
        if {earlier.ward_slug, later.ward_slug} != {o.ward_slug}:
            errors.append(
                OverrideMessage(o.ward_slug, f"{where}: nodes are not both of ward {o.ward_slug!r}")
            )
            continue
        if earlier.fiscal_year >= later.fiscal_year:
            errors.append(
                OverrideMessage(
                    o.ward_slug, f"{where}: {o.from_policy_id} is not earlier than {o.to_policy_id}"
                )
            )
            continue
        if o.action == "apart":
            if apart is not None:
                apart.add((later.key, earlier.key))
            if result[later.key].previous == earlier.key:
                result[later.key] = Link(None, None, "manual")
            continue
        if o.action == "split":
            if result[later.key].previous != earlier.key:
                errors.append(
                    OverrideMessage(
                        o.ward_slug, f"{where}: {o.to_node} is not linked from {o.from_node}"
                    )
                )
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

LINEAGE = table_spec("lineage")  # its columns: dataset/columns.toml

LINEAGE_CANDIDATES = table_spec("lineage_candidates")  # its columns: dataset/columns.toml

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
                int_or_none(row["strategy_position"]),
                int_or_none(row["position"]),
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


@dataclass(slots=True)
class LineageTables:
    lineage: pd.DataFrame  # LINEAGE
    candidates: pd.DataFrame  # LINEAGE_CANDIDATES: the review queue
    errors: list[OverrideMessage]  # one per unusable override


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
    built = lineage_tables(policies, issues, strategies, initiatives, previous, overrides)
    return built.lineage, [error.text for error in built.errors]


def _key_columns(node: Node) -> dict[str, Any]:
    positions = _table_positions(
        node.level, node.issue_position, node.strategy_position, node.position
    )
    return {
        "policy_id": node.policy_id,
        "level": node.level,
        **dict(zip(("issue_position", "strategy_position", "position"), positions, strict=True)),
        "node_key": node_key(*(p for p in positions if p is not None)),
    }


def lineage_tables(
    policies: pd.DataFrame,
    issues: pd.DataFrame,
    strategies: pd.DataFrame,
    initiatives: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    overrides: Iterable[Override] = (),
    frame: pd.DataFrame | None = None,
) -> LineageTables:
    """The lineage table, the review queue of near misses and the override messages.
    `frame`: the tables' nodes_frame, if the caller has it."""
    nodes = collect_nodes(policies, issues, strategies, initiatives, frame)
    automatic, near = link_with_near_misses(nodes)
    apart: set[tuple[NodeKey, NodeKey]] = set()
    links, errors = apply_overrides(nodes, automatic, overrides, apart)
    ids = assign_ids(nodes, links, _previous_ids(previous))
    by_key = {node.key: node for node in nodes}
    rows = []
    for node in nodes:
        link = links[node.key]
        rows.append(
            _key_columns(node)
            | {
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
    refs = node_refs(nodes)
    successors = {link.previous for link in links.values() if link.previous is not None}
    queue = []
    rank: Counter[NodeKey] = Counter()
    for miss in near:
        later, earlier = miss.current, miss.previous
        if (
            links[later.key].previous is not None  # an override joined it
            or earlier.key in successors
            or (later.key, earlier.key) in apart
        ):
            continue
        rank[later.key] += 1
        key = _key_columns(later)
        queue.append(
            {
                "policy_id": later.policy_id,
                "level": later.level,
                "node_key": key["node_key"],
                "ward_slug": later.ward_slug,
                "fiscal_year": later.fiscal_year,
                "node": refs[later.key],
                "title": later.title,
                "candidate_policy_id": earlier.policy_id,
                "candidate_node_key": _key_columns(earlier)["node_key"],
                "candidate_fiscal_year": earlier.fiscal_year,
                "candidate_node": refs[earlier.key],
                "candidate_title": earlier.title,
                "rank": rank[later.key],
                "score": round(miss.score, 4),
                "children_agree": miss.structure.agree,
                "children_share": round(miss.structure.share, 4) if miss.structure.agree else None,
                "theme": miss.theme,
                "parent_same": miss.parent_same,
                "reason": miss.reason,
            }
        )
    return LineageTables(lineage_frame(rows), candidates_frame(queue), errors)


def candidates_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=LINEAGE_CANDIDATES.names)
    for column in ("fiscal_year", "candidate_fiscal_year", "rank", "children_agree"):
        df[column] = df[column].astype("Int64")
    for column in ("score", "children_share"):
        df[column] = df[column].astype("float64")
    for column in ("theme", "parent_same"):
        df[column] = df[column].astype("boolean")
    for column in LINEAGE_CANDIDATES.names:
        if df[column].dtype == object:
            df[column] = df[column].where(df[column].notna(), None)
    df["_level"] = df["level"].map({level: i for i, level in enumerate(LEVELS)})
    df = df.sort_values(["ward_slug", "_level", "fiscal_year", "node_key", "rank"], kind="stable")
    return df.drop(columns="_level").reset_index(drop=True)


def lineage_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=LINEAGE.names)
    for column in _INT_COLUMNS:
        df[column] = df[column].astype("Int64")
    df["score"] = df["score"].astype("float64")
    for column in LINEAGE.names:
        if column not in _INT_COLUMNS and column != "score":
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df.reset_index(drop=True)
