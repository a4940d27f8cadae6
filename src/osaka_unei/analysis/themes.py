"""Themes: every issue, strategy and initiative tagged from a keyword codebook (themes.toml).

Rules (each a decision documented here once):

- A node's own themes come from keywords in its NFKC-normalised **title**. Titles are short
  and name what the node does; descriptions are paragraphs of context (港区 R4's issue 3
  description mentions 健康, 児童虐待 and 地域福祉 at once) and would tag most nodes with most
  themes. So a description is read only where nothing else gives a theme:
  initiative: title → description; strategy and issue: title → children → description.
- A strategy or issue whose title matches nothing takes the themes of its direct children
  (bottom-up, so an issue sees what its strategies inherited). The child's `source` is kept
  and `evidence` says `child:<code>` (`child:strategy#2` for an unnumbered one): the tag
  is as strong as the child's, and the evidence says it was passed up.
- SDGs goals named on a node add `source = "sdgs"` rows (codebook `sdgs` lists); they never
  take part in inheritance, and a node still inherits when it has only SDGs themes.
- Manual overrides (`data/theme-overrides.csv`) add `source = "manual"` rows (evidence = the
  reason) or, with theme `-<id>`, remove that automatic theme from the node; they are applied
  before inheritance, so a manual tag on an initiative also reaches an untitled parent.

Output rows: one per node × theme × source; `evidence` joins every match with ",".
Node keys mirror the core tables: an issue row has `issue_position` only, a strategy row
`issue_position` + `position` (its position in its issue, as in `strategies`), an
initiative row `issue_position` + `strategy_position` + `position` (as in `initiatives`).
"""

from __future__ import annotations

import csv
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei.analysis.overrides import MAX_LINE_CHARS
from osaka_unei.dataset.flatten import rows_frame
from osaka_unei.dataset.nodes import LEVELS, node_key, nodes_frame
from osaka_unei.dataset.tables import table_spec
from osaka_unei.dataset.values import clean, int_or_none
from osaka_unei.errors import CheckError, CuratedFileError
from osaka_unei.text import bounded

SOURCES = ("keywords", "sdgs", "manual")
UNTAGGED = "untagged"
DEFAULT_OVERRIDES = Path("data/theme-overrides.csv")
_NODE_COLUMNS = ["policy_id", "level", "issue_position", "strategy_position", "position"]


class CodebookError(CuratedFileError):
    """The codebook is not valid; the message names the theme and the problem."""


class OverrideError(CuratedFileError):
    """The overrides file is not valid; the message lists every bad line."""


# --- codebook --------------------------------------------------------------------------


def normalize(text: str | None) -> str:
    """NFKC, as the parser folds page text, so full-width Ｄ Ｖ and ＤＶ match "DV"."""
    return unicodedata.normalize("NFKC", text or "")


@dataclass(frozen=True, slots=True)
class Keyword:
    word: str
    example: str
    source: str  # a file under tests/fixtures/ holding the example, or "invented"


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    name_ja: str
    name_en: str
    keywords: tuple[Keyword, ...]
    sdgs: tuple[int, ...]
    exclude: tuple[str, ...] = ()

    def matches(self, text: str | None) -> list[str]:
        """Keywords of this theme in `text`, after blanking the theme's exclude phrases."""
        folded = normalize(text)
        for phrase in self.exclude:
            folded = folded.replace(normalize(phrase), "\0")
        return [k.word for k in self.keywords if normalize(k.word) in folded]


Codebook = tuple[Theme, ...]


def parse_codebook(text: str) -> Codebook:
    """TOML text → validated themes (CodebookError names what is wrong)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CodebookError(f"codebook: not valid TOML: {exc}") from exc
    themes = []
    for n, entry in enumerate(data.get("themes", []), start=1):
        name = entry.get("id", f"#{n}")
        try:
            keywords = tuple(
                Keyword(str(k["word"]), str(k["example"]), str(k["from"]))
                for k in entry.get("keywords", [])
            )
            theme = Theme(
                id=str(entry["id"]),
                name_ja=str(entry["name_ja"]),
                name_en=str(entry["name_en"]),
                keywords=keywords,
                sdgs=tuple(entry.get("sdgs", [])),
                exclude=tuple(str(p) for p in entry.get("exclude", [])),
            )
        except (KeyError, TypeError) as exc:
            raise CodebookError(f"codebook: theme {name}: missing or bad field {exc}") from exc
        themes.append(theme)
    validate_codebook(tuple(themes))
    return tuple(themes)


def validate_codebook(codebook: Codebook) -> None:
    if not codebook:
        raise CodebookError("codebook: no themes")
    ids = [theme.id for theme in codebook]
    if dup := sorted({i for i in ids if ids.count(i) > 1}):
        raise CodebookError(f"codebook: duplicate theme ids {dup}")
    for theme in codebook:
        if not theme.id.isidentifier() or theme.id == UNTAGGED:
            raise CodebookError(f"codebook: theme id {theme.id!r} is not a plain lowercase name")
        if not theme.keywords:
            raise CodebookError(f"codebook: theme {theme.id} has no keywords")
        words = [k.word for k in theme.keywords]
        if len(set(words)) != len(words) or not all(w.strip() for w in words):
            raise CodebookError(f"codebook: theme {theme.id} has empty or repeated keywords")
        bad: list[object] = [g for g in theme.sdgs if not isinstance(g, int) or isinstance(g, bool)]
        bad += [g for g in theme.sdgs if isinstance(g, int) and not 1 <= g <= 17]
        if bad:
            raise CodebookError(f"codebook: theme {theme.id}: SDGs goals must be 1-17, got {bad}")


def load_codebook() -> Codebook:
    """The packaged codebook, themes.toml."""
    text = resources.files("osaka_unei.analysis").joinpath("themes.toml").read_text("utf-8")
    return parse_codebook(text)


CODEBOOK: Codebook = load_codebook()
THEME_IDS: tuple[str, ...] = tuple(theme.id for theme in CODEBOOK)


def match_themes(text: str | None, codebook: Codebook = CODEBOOK) -> dict[str, list[str]]:
    """Theme id → matched keywords, for every theme with at least one match."""
    return {theme.id: words for theme in codebook if (words := theme.matches(text))}


# --- table specs -------------------------------------------------------------------------

# The columns: dataset/columns.toml; the theme ids: the codebook.
THEMES = table_spec("themes").with_enum("theme", THEME_IDS)

THEME_CODEBOOK = table_spec("theme_codebook")


def codebook_frame(codebook: Codebook = CODEBOOK) -> pd.DataFrame:
    """The THEME_CODEBOOK table: one row per theme, to join names onto `themes`."""
    return rows_frame(
        THEME_CODEBOOK,
        (
            {
                "theme": t.id,
                "name_ja": t.name_ja,
                "name_en": t.name_en,
                "keywords": "、".join(k.word for k in t.keywords),
                "exclude": "、".join(t.exclude) or None,
                "sdgs": ",".join(str(g) for g in t.sdgs) or None,
            }
            for t in codebook
        ),
    )


# --- nodes -------------------------------------------------------------------------------

NodeKey = tuple[str, str, int, int | None, int | None]


@dataclass(frozen=True, slots=True)
class _Node:
    key: NodeKey
    code: str | None
    title: str | None
    description: str | None
    parent: NodeKey | None

    @property
    def label(self) -> str:
        return self.code if self.code else f"{self.key[1]}#{self.key[4] or self.key[2]}"


def _nodes(tables: Mapping[str, pd.DataFrame], frame: pd.DataFrame | None = None) -> list[_Node]:
    """Every node, initiatives first then strategies then issues (children before parents);
    each node's parent is the node model's (parent_key). `frame`: the tables' nodes_frame,
    if the caller has it."""
    if frame is None:
        frame = nodes_frame(tables)
    keys: dict[tuple[str, str], NodeKey] = {
        (row["policy_id"], row["node_key"]): (
            row["policy_id"],
            row["level"],
            int(row["issue_position"]),
            int_or_none(row["strategy_position"]),
            int_or_none(row["position"]),
        )
        for row in frame.to_dict("records")
    }
    nodes = []
    for level in ("initiative", "strategy", "issue"):
        for row in frame[frame["level"] == level].to_dict("records"):
            pid = row["policy_id"]
            parent = clean(row["parent_key"])
            nodes.append(
                _Node(
                    keys[(pid, row["node_key"])],
                    clean(row["code"]),
                    clean(row["title"]),
                    clean(row["description"]),
                    keys[(pid, parent)] if parent is not None else None,
                )
            )
    return nodes


def _key_of(row: Mapping[str, Any]) -> NodeKey:
    level = str(row["level"])
    """A node's key from a row of `themes`, `sdgs` or the overrides (extra positions dropped)."""
    ip, sp, p = (
        int_or_none(row.get(c)) for c in ("issue_position", "strategy_position", "position")
    )
    if level == "issue":
        sp = p = None
    elif level == "strategy":
        sp = None
    return (str(row["policy_id"]), level, ip if ip is not None else -1, sp, p)


# --- tagging -----------------------------------------------------------------------------

# (theme, source) → evidence items, in first-seen order
Tags = dict[tuple[str, str], list[str]]


def _keyword_tags(text: str | None, codebook: Codebook, prefix: str = "") -> Tags:
    return {
        (theme, "keywords"): [prefix + word for word in words]
        for theme, words in match_themes(text, codebook).items()
    }


def _drop(tags: Tags, removed: set[str]) -> Tags:
    return {key: ev for key, ev in tags.items() if key[0] not in removed}


def _sort_key(row: Mapping[str, Any], order: Mapping[str, int]) -> tuple[Any, ...]:
    def pos(value: Any) -> int:
        return -1 if value is None else int(value)

    return (
        row["policy_id"],
        pos(row["issue_position"]),
        LEVELS.index(row["level"]) > 0,
        pos(row["position"] if row["level"] == "strategy" else row["strategy_position"]),
        row["level"] == "initiative",
        pos(row["position"] if row["level"] == "initiative" else None),
        order.get(row["theme"], len(order)),
        SOURCES.index(row["source"]),
    )


def _themes_frame(rows: list[dict[str, Any]], codebook: Codebook) -> pd.DataFrame:
    order = {theme.id: n for n, theme in enumerate(codebook)}
    for row in rows:
        row["node_key"] = node_key(
            *(
                row[p]
                for p in ("issue_position", "strategy_position", "position")
                if int_or_none(row[p])
            )
        )
    return rows_frame(THEMES, sorted(rows, key=lambda row: _sort_key(row, order)))


def tag_nodes(
    tables: Mapping[str, pd.DataFrame],
    overrides: pd.DataFrame | None = None,
    codebook: Codebook = CODEBOOK,
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The THEMES table from keywords (and manual overrides): see the module docstring.

    `tables` needs `issues`, `strategies`, `initiatives` as published; `overrides` is what
    `read_overrides` returns (or None); `frame` their nodes_frame, if the caller has it."""
    added: dict[NodeKey, Tags] = {}
    removed: dict[NodeKey, set[str]] = {}
    if overrides is not None:
        for row in overrides.to_dict("records"):
            key, theme = _key_of(row), str(row["theme"])
            if theme.startswith("-"):
                removed.setdefault(key, set()).add(theme[1:])
            else:
                added.setdefault(key, {}).setdefault((theme, "manual"), []).append(
                    str(row["reason"])
                )
    final: dict[NodeKey, Tags] = {}
    inherited: dict[NodeKey, Tags] = {}
    nodes = _nodes(tables, frame)
    for node in nodes:  # children come before their parents
        gone = removed.get(node.key, set())
        tags = _drop(_keyword_tags(node.title, codebook), gone) | added.get(node.key, {})
        if not tags:
            tags = _drop(inherited.get(node.key, {}), gone)
        if not tags:
            tags = _drop(_keyword_tags(node.description, codebook, "description:"), gone)
        final[node.key] = tags
        if node.parent is not None:
            into = inherited.setdefault(node.parent, {})
            for tag in tags:
                into.setdefault(tag, []).append(f"child:{node.label}")
    rows = []
    for node in nodes:
        policy, level, ip, sp, p = node.key
        for (theme, source), evidence in final[node.key].items():
            rows.append(
                {
                    "policy_id": policy,
                    "level": level,
                    "issue_position": ip,
                    "strategy_position": sp,
                    "position": p,
                    "code": node.code,
                    "theme": theme,
                    "source": source,
                    "evidence": ",".join(dict.fromkeys(evidence)),
                }
            )
    return _themes_frame(rows, codebook)


# --- SDGs --------------------------------------------------------------------------------


def sdgs_themes(sdgs: pd.DataFrame, codebook: Codebook = CODEBOOK) -> pd.DataFrame:
    """`source = "sdgs"` rows: each goal named on a node → every theme listing that goal.

    `sdgs` has node keys (policy_id, level, issue_position, and strategy_position/position
    where the level needs them; `code` optional) and `goal` (int 1-17). A goal outside 1-17
    is an error; a goal no theme lists (11, 13) adds nothing."""
    by_goal: dict[int, list[str]] = {}
    for entry in codebook:
        for number in entry.sdgs:
            by_goal.setdefault(number, []).append(entry.id)
    collected: dict[tuple[NodeKey, str], list[str]] = {}
    codes: dict[NodeKey, str | None] = {}
    for row in sdgs.to_dict("records"):
        goal = int_or_none(row["goal"])
        if goal is None or not 1 <= goal <= 17:
            raise CheckError(f"sdgs: goal {row['goal']!r} is not 1-17 ({row['policy_id']})")
        key = _key_of(row)
        codes[key] = clean(row.get("code"))
        for theme in by_goal.get(goal, []):
            collected.setdefault((key, theme), []).append(str(goal))
    rows = [
        {
            "policy_id": key[0],
            "level": key[1],
            "issue_position": key[2],
            "strategy_position": key[3],
            "position": key[4],
            "code": codes[key],
            "theme": theme,
            "source": "sdgs",
            "evidence": ",".join(dict.fromkeys(goals)),
        }
        for (key, theme), goals in collected.items()
    ]
    return _themes_frame(rows, codebook)


def add_sdgs(
    themes: pd.DataFrame, sdgs: pd.DataFrame, codebook: Codebook = CODEBOOK
) -> pd.DataFrame:
    """`themes` plus the SDGs-implied rows, in table order."""
    rows = themes.astype(object).where(themes.notna(), None).to_dict("records")
    extra = sdgs_themes(sdgs, codebook)
    rows += extra.astype(object).where(extra.notna(), None).to_dict("records")
    return _themes_frame(rows, codebook)


# --- manual overrides --------------------------------------------------------------------

_OVERRIDE_COLUMNS = ("policy_id", "level", "issue_position", "theme", "reason")
MAX_PROBLEMS = 20  # bad lines named in the error; then "… and K more"


def read_overrides(
    path: Path | str,
    tables: Mapping[str, pd.DataFrame],
    codebook: Codebook = CODEBOOK,
) -> pd.DataFrame | None:
    """The overrides CSV, checked against the codebook and the tables; None if absent.

    Columns: policy_id, level, issue_position, strategy_position, position (as in the
    `themes` table), optional code (checked against the node's when given), theme (an id,
    or `-id` to remove an automatic tag), reason (required). Raises OverrideError listing
    every bad line (unknown theme, level or node, missing reason) instead of failing later."""
    path = Path(path)
    if not path.is_file():
        return None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        # Lines starting with '#' and blank lines are comments (as in lineage-overrides.csv):
        # a file of comments and a header (the template) changes nothing.
        kept = []
        for number, line in enumerate(handle, start=1):  # a real row is under 300 characters
            if len(text := line.rstrip("\r\n")) > MAX_LINE_CHARS:
                raise OverrideError(
                    f"{path.name} line {number}: {len(text):,} characters, at most "
                    f"{MAX_LINE_CHARS:,}"
                )
            if text.strip() and not text.lstrip().startswith("#"):
                kept.append((number, line))
    if not kept:
        return None
    reader = csv.DictReader(text for _, text in kept)
    try:
        header = reader.fieldnames or []
        missing = [c for c in _OVERRIDE_COLUMNS if c not in header]
        if missing:
            raise OverrideError(f"{path}: missing column(s) {', '.join(missing)[:200]}")
        records = [(kept[reader.line_num - 1][0], raw) for raw in reader]
    except csv.Error as exc:  # a field past csv's limit (128 KB): not an internal error
        raise OverrideError(f"{path.name} line {reader.line_num}: {exc}") from exc
    if not records:
        return None
    codes = {node.key: node.code for node in _nodes(tables)}
    ids = {theme.id for theme in codebook}
    problems, rows = [], []
    for number, raw in records:
        row = {k: (v or "").strip() or None for k, v in raw.items() if k is not None}
        where = f"{path.name} line {number}"
        theme = row.get("theme") or ""
        if theme.removeprefix("-") not in ids:
            problems.append(
                f"{where}: unknown theme {theme[:40]!r} (known: {', '.join(sorted(ids))})"
            )
        if row.get("level") not in LEVELS:
            problems.append(f"{where}: level must be one of {', '.join(LEVELS)}")
            continue
        if not row.get("reason"):
            problems.append(f"{where}: a reason is required")
        try:
            key = _key_of(row)
        except ValueError:
            problems.append(f"{where}: positions must be whole numbers")
            continue
        if key not in codes:
            problems.append(f"{where}: no {row['level']} at {key[0]} {key[2:]}")
        elif row.get("code") and row["code"] != codes[key]:
            problems.append(
                f"{where}: code {str(row['code'])[:40]!r} but the node's is {codes[key]!r}"
            )
        else:
            rows.append({**row, "code": codes[key]} | dict(zip(_NODE_COLUMNS, key, strict=True)))
    if problems:  # the first ones and a count: never a 69 MB message
        raise OverrideError("; ".join(bounded(problems, MAX_PROBLEMS)))
    return pd.DataFrame(rows, columns=[*_NODE_COLUMNS, "code", "theme", "reason"])


def build_themes(
    tables: Mapping[str, pd.DataFrame],
    sdgs: pd.DataFrame | None = None,
    overrides_path: Path | str | None = DEFAULT_OVERRIDES,
    codebook: Codebook = CODEBOOK,
) -> pd.DataFrame:
    """Everything at once: keywords, manual overrides (if the file exists), SDGs rows."""
    overrides = None
    if overrides_path is not None:
        overrides = read_overrides(overrides_path, tables, codebook)
    themes = tag_nodes(tables, overrides, codebook)
    return themes if sdgs is None else add_sdgs(themes, sdgs, codebook)


# --- budgets -----------------------------------------------------------------------------


def counted_amounts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Nodes whose main amount counts (dataset.nodes.counted_amounts, the rule of
    policies.total_budget_thousand_yen). Columns: node keys + budget_thousand_yen."""
    nodes = nodes_frame(tables)
    counted = nodes[nodes["counted_thousand_yen"].notna()]
    return (
        counted[_NODE_COLUMNS]
        .assign(budget_thousand_yen=counted["counted_thousand_yen"])
        .reset_index(drop=True)
    )


def budget_by_theme(
    tables: Mapping[str, pd.DataFrame],
    themes: pd.DataFrame,
    split: bool = False,
    codebook: Codebook = CODEBOOK,
) -> pd.DataFrame:
    """Budget per ward, fiscal year and theme: (ward, fiscal_year, theme, budget_thousand_yen).

    Each main amount is counted once per theme it carries (the total_budget rule picks the
    amounts). A node with several themes adds its whole amount to each, so the themes of
    a policy sum to more than its total; with `split=True` the amount is shared equally
    among the node's themes instead (float), and the themes sum to the total. Amounts on
    nodes without a theme appear as theme "untagged", in both modes. Filter `themes` first
    to choose sources (e.g. drop source == "sdgs")."""
    amounts = counted_amounts(tables)
    tagged = themes[[*_NODE_COLUMNS, "theme"]].drop_duplicates()
    keys = _NODE_COLUMNS
    amounts = amounts.astype({c: object for c in keys}).where(amounts.notna(), None)
    tagged = tagged.astype({c: object for c in keys}).where(tagged.notna(), None)
    merged = amounts.merge(tagged, on=keys, how="left")
    merged["theme"] = merged["theme"].fillna(UNTAGGED)
    value = merged["budget_thousand_yen"].astype("Int64")
    if split:
        share = merged.groupby(keys, dropna=False)["theme"].transform("size")
        value = value.astype("float64") / share
    merged["budget_thousand_yen"] = value
    policies = tables["policies"][["policy_id", "ward", "fiscal_year"]]
    merged = merged.merge(policies, on="policy_id", how="left")
    order = {theme.id: n for n, theme in enumerate(codebook)}
    out = (
        merged.groupby(["ward", "fiscal_year", "theme"], sort=False)["budget_thousand_yen"]
        .sum()
        .reset_index()
    )
    out["_order"] = out["theme"].map(lambda t: order.get(t, len(order)))
    out = out.sort_values(["fiscal_year", "ward", "_order"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)
