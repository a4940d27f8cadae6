"""Lineage evidence beyond the title (issue 23): the structure (children), themes, the
site's usual rewordings, the labelled real title pairs, and the review queue of near misses
(lineage_candidates, `osaka-unei lineage review`)."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei.analysis import lineage as lineage_module
from osaka_unei.analysis.lineage import (
    LINEAGE_CANDIDATES,
    METHODS,
    THEME_FLOOR,
    TITLE_LINK,
    WEAK_LINK,
    lineage_tables,
    title_similarity,
)
from osaka_unei.analysis.overrides import parse_overrides
from osaka_unei.analysis.rewordings import (
    REWORDINGS,
    SCOPE_EXAMPLE,
    canonical_title,
    scope_pair,
    strip_scope,
)
from osaka_unei.dataset.checks import check_columns
from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.views.lineage_review import render_review

ROOT = Path(__file__).parent.parent
REAL = Path(__file__).parent / "fixtures" / "lineage" / "real"
sys.path.insert(0, str(ROOT / "bench"))
from lineage_eval import read_real, real_scores  # noqa: E402  (evaluation lives in bench/)

from .node_tables import core_tables  # noqa: E402

# --- tables by hand ---------------------------------------------------------------------------

Row = tuple[str, str, str, int | None]  # policy_id, pI[.S[.N]], title, amount (千円) or None


def _tables(rows: list[Row], codes: bool = False) -> dict[str, pd.DataFrame]:
    """Core tables from (policy_id, path, title, amount); codes = the positions if asked."""
    return core_tables(
        ((pid, path, title, None, amount) for pid, path, title, amount in rows), codes
    )


def _build(rows: list[Row], codes: bool = False, overrides: str = "") -> Any:
    tables = _tables(rows, codes)
    parsed, errors = parse_overrides(overrides)
    assert errors == []
    built = lineage_tables(
        tables["policies"],
        tables["issues"],
        tables["strategies"],
        tables["initiatives"],
        overrides=parsed,
    )
    assert built.errors == []
    return built


def _link(built: Any, policy: str, key: str) -> tuple[str | None, str]:
    """(the node key it is linked from, method) of one node."""
    table = built.lineage
    row = table[(table["policy_id"] == policy) & (table["node_key"] == key)].iloc[0]
    if row["linked_from"] is None:
        return None, row["method"]
    earlier = table[
        (table["policy_id"] == row["linked_from"]) & (table["lineage_id"] == row["lineage_id"])
    ].iloc[0]
    return earlier["node_key"], row["method"]


# Strategies and initiatives kept from 2019 to 2021 while the issue above them is reworded
# (旭区's real issue titles, asahi/page/0000466780 and 0000533715; children made up).
WELFARE_2019 = "暮らしを守る福祉等の向上"
WELFARE_2021 = "区民一人ひとりの生活に寄り添った福祉・健康施策の推進"
CHILDREN = [
    ("p1.1", "地域福祉の推進", 30_000),
    ("p1.1.1", "見守りネットワークの強化", 20_000),
    ("p1.2", "健康づくりの推進", 10_000),
    ("p1.2.1", "がん検診の受診勧奨", 8_000),
]


def _renamed_issue(later_children: list[tuple[str, str, int]] = CHILDREN) -> list[Row]:
    rows: list[Row] = [("asahi-2019", "p1", WELFARE_2019, None)]
    rows += [("asahi-2019", path, title, amount) for path, title, amount in CHILDREN]
    rows += [("asahi-2020", "p1", WELFARE_2021, None)]
    rows += [("asahi-2020", path, title, amount) for path, title, amount in later_children]
    return rows


# --- the structure ------------------------------------------------------------------------------


def test_a_reworded_issue_follows_its_children() -> None:
    assert title_similarity(WELFARE_2019, WELFARE_2021) < THEME_FLOOR  # titles alone: no
    built = _build(_renamed_issue())
    assert _link(built, "asahi-2020", "1") == ("1", "children")
    assert _link(built, "asahi-2020", "1.1") == ("1.1", "title")
    # the score stays the title's similarity, comparable with every other link
    row = built.lineage[built.lineage["method"] == "children"].iloc[0]
    assert row["score"] == pytest.approx(title_similarity(WELFARE_2019, WELFARE_2021), abs=1e-4)
    assert "children" in METHODS and "theme" in METHODS


def test_children_must_agree_by_majority_on_both_sides() -> None:
    # only one of the four descendants continues: 1/4 is no majority, the title is far off
    changed = [
        ("p1.1", "地域福祉の推進", 30_000),
        ("p1.1.1", "子ども食堂の支援", 20_000),
        ("p1.2", "多文化共生の推進", 10_000),
        ("p1.2.1", "日本語教室の開催", 8_000),
    ]
    built = _build(_renamed_issue(changed))
    assert _link(built, "asahi-2020", "1") == (None, "new")
    # the near miss is offered for review, with its evidence
    queue = built.candidates
    row = queue[(queue["policy_id"] == "asahi-2020") & (queue["node_key"] == "1")].iloc[0]
    assert (row["candidate_node_key"], row["children_agree"]) == ("1", 1)
    assert row["children_share"] < 0.5 and "下位項目 1 件が一致" in row["reason"]


def test_children_are_weighted_by_amount() -> None:
    # two of three strategies continue (2/3 by count) but they carry 1% of the amount
    rows: list[Row] = [
        ("asahi-2019", "p1", WELFARE_2019, None),
        ("asahi-2019", "p1.1", "地域福祉の推進", 500),
        ("asahi-2019", "p1.2", "健康づくりの推進", 500),
        ("asahi-2019", "p1.3", "生活困窮者の自立支援", 99_000),
        ("asahi-2020", "p1", WELFARE_2021, None),
        ("asahi-2020", "p1.1", "地域福祉の推進", 500),
        ("asahi-2020", "p1.2", "健康づくりの推進", 500),
        ("asahi-2020", "p1.3", "不登校の子どもへの学習支援", 99_000),
    ]
    assert _link(_build(rows), "asahi-2020", "1") == (None, "new")
    # the same without amounts: 2 of 3 agree on both sides → linked
    plain = [(pid, path, title, None) for pid, path, title, _ in rows]
    assert _link(_build(plain), "asahi-2020", "1") == ("1", "children")


def test_a_split_issue_links_to_neither_half() -> None:
    # the 2020 issue takes one strategy from each of two 2019 issues: no majority for either
    rows: list[Row] = [
        ("kita-2019", "p1", "防災力の向上", None),
        ("kita-2019", "p1.1", "避難所運営の支援", None),
        ("kita-2019", "p1.2", "防災訓練の実施", None),
        ("kita-2019", "p2", "防犯対策の充実", None),
        ("kita-2019", "p2.1", "青色防犯パトロールの支援", None),
        ("kita-2019", "p2.2", "防犯カメラの設置", None),
        ("kita-2020", "p1", "くらしの安心", None),
        ("kita-2020", "p1.1", "避難所運営の支援", None),
        ("kita-2020", "p1.2", "防犯カメラの設置", None),
    ]
    built = _build(rows)
    assert _link(built, "kita-2020", "1") == (None, "new")
    assert _link(built, "kita-2020", "1.1") == ("1.1", "title")
    assert _link(built, "kita-2020", "1.2") == ("2.2", "title")


def test_a_strategy_follows_its_initiatives() -> None:
    rows: list[Row] = [
        ("tsurumi-2022", "p1", "安全なまちづくり", None),
        ("tsurumi-2022", "p1.1", "自助・共助の推進", None),
        ("tsurumi-2022", "p1.1.1", "防災講座の開催", 1_000),
        ("tsurumi-2022", "p1.1.2", "防災マップの配布", 2_000),
        ("tsurumi-2023", "p1", "安全なまちづくり", None),
        ("tsurumi-2023", "p1.1", "地域で支え合う避難の体制づくり", None),
        ("tsurumi-2023", "p1.1.1", "防災講座の開催", 1_000),
        ("tsurumi-2023", "p1.1.2", "防災マップの配布", 2_000),
    ]
    assert title_similarity("自助・共助の推進", "地域で支え合う避難の体制づくり") < THEME_FLOOR
    assert _link(_build(rows), "tsurumi-2023", "1.1") == ("1.1", "children")


# --- the traps, and what never links ------------------------------------------------------------


def test_look_alike_titles_stay_apart() -> None:
    # 地域防災力の向上 / 地域福祉の向上: words in common, subjects apart (0.33), own children
    rows: list[Row] = [
        ("tsurumi-2022", "p1", "地域防災力の向上", None),
        ("tsurumi-2022", "p1.1", "防災訓練の実施", None),
        ("tsurumi-2023", "p1", "地域福祉の向上", None),
        ("tsurumi-2023", "p1.1", "見守り活動の支援", None),
    ]
    built = _build(rows, codes=True)  # the same code 1 and the same position: not enough
    assert _link(built, "tsurumi-2023", "1") == (None, "new")
    # 0.33: in the theme range, but their themes differ (safety / welfare): no sign at all
    assert title_similarity("地域防災力の向上", "地域福祉の向上") < WEAK_LINK


def test_one_kanji_apart_links_only_with_its_parent() -> None:
    # 地域防災の活動支援 → 地域防犯の活動支援 (0.77): linked under the same issue only
    assert WEAK_LINK <= title_similarity("地域防災の活動支援", "地域防犯の活動支援") < TITLE_LINK
    same_parent: list[Row] = [
        ("minato-2022", "p2", "安全・安心・快適なまちづくり", None),
        ("minato-2022", "p2.1", "防犯対策の強化", None),
        ("minato-2022", "p2.1.1", "地域防災の活動支援", None),
        ("minato-2023", "p2", "安全・安心・快適なまちづくり", None),
        ("minato-2023", "p2.1", "防犯対策の強化", None),
        ("minato-2023", "p2.1.1", "地域防犯の活動支援", None),
    ]
    assert _link(_build(same_parent), "minato-2023", "2.1.1") == ("2.1.1", "parent")
    other_parent = [
        *same_parent[:3],
        ("minato-2023", "p1", "区民主体のまちづくり", None),
        ("minato-2023", "p1.1", "地域活動の支援", None),
        ("minato-2023", "p1.1.1", "地域防犯の活動支援", None),
    ]
    assert _link(_build(other_parent), "minato-2023", "1.1.1") == (None, "new")


def test_position_and_code_alone_never_link() -> None:
    rows: list[Row] = [
        ("kita-2021", "p1", "区民サービスの向上", None),
        ("kita-2022", "p1", "子育て環境の充実", None),
    ]
    assert _link(_build(rows, codes=True), "kita-2022", "1") == (None, "new")


def test_a_theme_of_their_own_is_a_weak_sign() -> None:
    # 淀川区's real titles, yodogawa/page/0000564882 and 0000650816 (0.42: theme children)
    before, after = "教育・子育て支援の充実", "子育てや教育環境が充実したまちづくり"
    assert THEME_FLOOR <= title_similarity(before, after) < WEAK_LINK
    rows: list[Row] = [
        ("yodogawa-2022", "p1", "安全・安心なまちづくり", None),
        ("yodogawa-2022", "p2", before, None),
        ("yodogawa-2023", "p1", "安全で安心なまちづくり(地域防災・地域福祉の推進)", None),
        ("yodogawa-2023", "p2", after, None),
    ]
    built = _build(rows)
    assert _link(built, "yodogawa-2023", "2") == ("2", "theme")
    assert _link(built, "yodogawa-2023", "1") == ("1", "title")  # rewordings: 1.0
    # a second node of the children theme in the later year: the theme is no one's own
    crowded = [*rows, ("yodogawa-2023", "p3", "不登校の子どもへの学習支援", None)]
    assert _link(_build(crowded), "yodogawa-2023", "2") == (None, "new")


# --- the rewordings (data, each entry with a real example) --------------------------------------


@pytest.mark.parametrize("entry", REWORDINGS, ids=lambda e: e.name)
def test_every_rewording_example_gives_its_form(entry: Any) -> None:
    assert entry.pattern.sub(entry.replacement, entry.example).strip() == entry.becomes
    assert entry.becomes != entry.example
    assert re.fullmatch(r"https://www\.city\.osaka\.lg\.jp/[a-z]+/page/\d{10}\.html", entry.source)


def test_every_rewording_example_is_a_real_title_of_the_fixture() -> None:
    titles = {(t.title, t.url) for t in read_real(REAL)[0]}
    for entry in REWORDINGS:
        assert (entry.example, entry.source) in titles, entry.name
    assert (SCOPE_EXAMPLE[0], SCOPE_EXAMPLE[2]) in titles


def test_a_bracketed_scope_is_dropped_only_against_a_title_without_one() -> None:
    assert strip_scope(SCOPE_EXAMPLE[0]) == SCOPE_EXAMPLE[1]
    assert scope_pair(SCOPE_EXAMPLE[0], "安全・安心なまちづくり")[0] == SCOPE_EXAMPLE[1]
    # 鶴見区 R4: (公助) and (共助) name different items and both keep their note
    assert scope_pair("区災害対策機能の強化(公助)", "区災害対策機能の強化(共助)") == (
        "区災害対策機能の強化(公助)",
        "区災害対策機能の強化(共助)",
    )
    assert title_similarity("安全・安心なまちづくり", SCOPE_EXAMPLE[0]) == 1.0
    assert canonical_title("安全・安心のまちづくり") == canonical_title("安全・安心のまち")


# --- the real pairs -----------------------------------------------------------------------------


def test_the_real_pairs_are_well_formed() -> None:
    titles, groups, pairs = read_real(REAL)
    known = {(t.ward_slug, t.fiscal_year, t.level, t.node) for t in titles}
    assert len({t.url for t in titles}) >= 40 and len(groups) == 28
    for t in titles:  # every title keeps the address it came from
        assert re.fullmatch(
            rf"https://www\.city\.osaka\.lg\.jp/{t.ward_slug}/page/\d{{10}}\.html", t.url
        )
        assert t.source in {"seed", "heading", "list", "mission-list"}
        assert (t.code is None) == (t.source in {"list", "mission-list"}), t
    by_name = {g.name: g for g in groups}
    for p in pairs:
        g = by_name[p.group]
        assert (g.ward_slug, g.earlier_year, p.level, p.earlier_node) in known, p
        assert (g.ward_slug, g.later_year, p.level, p.later_node) in known, p
        assert p.label in {"same", "unsure"} and p.rule in {"S1", "S2", "U"}
    assert {g.split for g in groups} == {"tune", "holdout"}


def test_no_false_link_on_the_real_pairs() -> None:
    scores = real_scores(REAL)
    assert scores["precision"] == 1.0 and scores["false_links"] == 0
    # measured when written (bench prints them); a drop is a regression to look at
    assert scores["reworded_found"] >= 20 and scores["reworded_pairs"] == 25
    held_out = real_scores(REAL, "holdout")
    assert held_out["precision"] == 1.0 and held_out["reworded_found"] >= 6


# --- the review queue ---------------------------------------------------------------------------


def _queue_rows() -> list[Row]:
    # 港区 R4 → R5 (real titles, seed and minato/page/0000596302): issue 6 has no successor
    # on the list; a made-up p6 in 2023 is offered against it for review
    return [
        ("minato-2022", "p4", "「子どもの学び」と「子育て世代」を応援するまちづくり", 12_000),
        ("minato-2022", "p6", "区民意見を反映した区政運営", None),
        ("minato-2023", "p4", "「まちぐるみで子育て」と「多様な学び」を応援するまちづくり", None),
        ("minato-2023", "p6", "開かれた区政運営", 3_000),
        ("minato-2023", "p7", "区役所窓口サービスの向上", None),
    ]


def test_the_queue_lists_near_misses_with_their_evidence() -> None:
    built = _build(_queue_rows())
    queue = built.candidates
    check_columns({"lineage_candidates": queue}, [LINEAGE_CANDIDATES])
    assert list(queue.columns) == LINEAGE_CANDIDATES.names
    # p4 links by its theme of its own (children: 子育て, 学び): not in the queue
    assert _link(built, "minato-2023", "4") == ("4", "theme")
    near = queue[queue["node_key"] == "6"].iloc[0]
    assert (near["candidate_node_key"], near["rank"]) == ("6", 1)
    assert near["score"] < TITLE_LINK and near["reason"].startswith("名称の類似度")


def test_review_prints_a_line_to_paste_that_settles_the_pair() -> None:
    rows = _queue_rows()
    built = _build(rows)
    tables = _tables(rows)
    text = render_review(built.candidates, tables, "港区")
    assert "経営課題 minato-2023 p6 「開かれた区政運営」 3,000 千円" in text
    assert "候補1 minato-2022 p6 「区民意見を反映した区政運営」 —" in text
    join = next(line for line in text.splitlines() if "join," in line).split(": ", 1)[1]
    apart = next(line for line in text.splitlines() if "apart," in line).split(": ", 1)[1]
    assert join == "join,minato,issue,minato-2022,p6,minato-2023,p6,reviewed: same item"
    header = "action,ward_slug,level,from_policy_id,from_node,to_policy_id,to_node,reason\n"
    joined = _build(rows, overrides=header + join + "\n")
    assert _link(joined, "minato-2023", "6") == ("6", "manual")
    assert "6" not in set(joined.candidates["node_key"])
    parted = _build(rows, overrides=header + apart + "\n")
    assert _link(parted, "minato-2023", "6") == (None, "new")
    assert "6" not in set(parted.candidates["node_key"])  # settled: off the queue
    assert render_review(built.candidates, tables, "kita").startswith("北区 (kita): 確認待ち")
    with pytest.raises(ValueError, match="unknown ward"):
        render_review(built.candidates, tables, "nowhere")


def test_lineage_review_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from osaka_unei import cli

    rows = _queue_rows()
    built = _build(rows)
    tables = _tables(rows)
    tables |= {"lineage_candidates": built.candidates, "nodes": nodes_frame(tables)}
    monkeypatch.setattr(cli, "_load_tables", lambda _dir, *names: {n: tables[n] for n in names})
    result = CliRunner().invoke(cli.app, ["lineage", "review", "minato"])
    assert result.exit_code == 0, result.output
    assert "apart,minato,issue,minato-2022,p6,minato-2023,p6" in result.output
    failed = CliRunner().invoke(cli.app, ["lineage", "review", "nowhere"])
    assert failed.exit_code == 2 and failed.output.startswith("error: unknown ward")


def test_the_queue_is_written_by_the_build_as_a_table() -> None:
    from osaka_unei.publish.catalog import DERIVED_TABLES

    assert LINEAGE_CANDIDATES in DERIVED_TABLES
    empty = lineage_module.candidates_frame([])
    check_columns({"lineage_candidates": empty}, [LINEAGE_CANDIDATES])


def test_real_pairs_files_are_utf8_csv_with_their_headers() -> None:
    heads = {
        "titles.csv": [
            "ward_slug",
            "fiscal_year",
            "level",
            "node",
            "code",
            "title",
            "source",
            "url",
        ],
        "groups.csv": ["group", "ward_slug", "earlier_year", "later_year", "split"],
        "pairs.csv": ["group", "level", "earlier_node", "later_node", "label", "rule", "note"],
    }
    for name, header in heads.items():
        with (REAL / name).open(encoding="utf-8", newline="") as handle:
            assert next(csv.reader(handle)) == header


def test_the_derived_fixture_stays_perfect() -> None:
    from lineage_eval import fixture_scores

    scores = fixture_scores(ROOT / "tests" / "fixtures" / "lineage")
    assert (scores["precision"], scores["recall"], scores["true_links"]) == (1.0, 1.0, 91)


def test_queue_ranks_children_then_theme_then_title() -> None:
    # 此花区 R5 → R7 (real titles, konohana/page/0000596263 and 0000647792): 子育て環境の向上
    # has two candidates; 子ども shares the theme children with it alone (title 0.15),
    # まちづくり・環境 only more of the title (0.38)
    from lineage_eval import group_tables

    titles, groups, _ = read_real(REAL)
    group = next(g for g in groups if g.name == "konohana-2023-2025")
    tables = group_tables(group, titles)
    built = lineage_tables(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"]
    )
    queue = built.candidates
    rows = queue[queue["title"] == "子育て環境の向上"].sort_values("rank")
    assert list(rows["candidate_title"]) == ["子ども", "まちづくり・環境"]
    assert list(rows["theme"]) == [True, False] and list(rows["rank"]) == [1, 2]
