"""Lineage: linking a ward's items across years, ids, overrides, evaluation.

The fixture (tests/fixtures/lineage) is 港区 and 鶴見区 R4 (the seed pages) plus R5 and R6
written by hand (nodes.csv) with labelled true links (labels.csv)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from osaka_unei.analysis.lineage import (
    LINEAGE,
    METHODS,
    TITLE_LINK,
    WEAK_LINK,
    build_lineage,
    normalize_title,
    title_core,
    title_similarity,
)
from osaka_unei.analysis.overrides import ACTIONS, FIELD_NAMES, parse_overrides
from osaka_unei.dataset.tables import LEVELS

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from lineage_eval import (  # noqa: E402  (the evaluation lives with the bench)
    evaluate,
    fixture_scores,
    load_fixture_tables,
    predicted_links,
    read_labels,
)

from .node_tables import core_tables  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "lineage"


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return load_fixture_tables(FIXTURE / "tables.json")


def _build(tables: dict[str, pd.DataFrame], **kwargs: Any) -> pd.DataFrame:
    lineage, errors = build_lineage(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"], **kwargs
    )
    assert errors == []
    return lineage


@pytest.fixture(scope="module")
def lineage(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return _build(tables)


def _only(tables: dict[str, pd.DataFrame], keep: set[str]) -> dict[str, pd.DataFrame]:
    return {name: df[df["policy_id"].isin(keep)] for name, df in tables.items()}


def _row(lineage: pd.DataFrame, policy: str, level: str, code: str) -> dict[str, Any]:
    found = lineage[
        (lineage["policy_id"] == policy) & (lineage["level"] == level) & (lineage["code"] == code)
    ]
    assert len(found) == 1
    return found.iloc[0].to_dict()


def _ids(lineage: pd.DataFrame) -> dict[tuple[Any, ...], str]:
    key = list(LINEAGE.key)
    return {
        tuple(None if pd.isna(v) else v for v in row[:-1]): row[-1]
        for row in lineage[[*key, "lineage_id"]].astype(object).itertuples(index=False)
    }


# --- similarity ---------------------------------------------------------------------------


def test_titles_are_compared_without_brackets_punctuation_and_width() -> None:
    assert normalize_title("「子どもの学び」の応援") == "子どもの学びの応援"
    assert normalize_title("区災害対策機能の強化（公助）") == "区災害対策機能の強化公助"
    assert normalize_title("安全・安心　なまちづくり") == "安全安心なまちづくり"
    assert title_core("地域防災力の向上") == "防災力"
    assert title_core("地域福祉の推進") == "福祉"


def test_a_slight_rename_links_and_a_shared_word_does_not() -> None:
    # Whole titles 地域防災力の向上/強化: LCS 6 of 8+8 → 0.75; cores 防災力 = 防災力 → 1.
    assert title_similarity("地域防災力の向上", "地域防災力の強化") == pytest.approx(0.875)
    assert title_similarity("地域防災力の向上", "地域防災力の強化") >= TITLE_LINK
    # Whole 0.667; cores 防災力 / 福祉 share nothing → 0.333: far below any link.
    assert title_similarity("地域防災力の向上", "地域福祉の向上") == pytest.approx(1 / 3)
    assert title_similarity("地域防災力の向上", "地域福祉の向上") < WEAK_LINK
    assert title_similarity("「子どもの学び」の応援", "子どもの学びの応援") == 1.0
    assert title_similarity(None, "防犯対策の強化") == 0.0


# --- the labelled fixture -----------------------------------------------------------------


def test_fixture_generator_output_is_committed_and_deterministic() -> None:
    spec = importlib.util.spec_from_file_location("make_tables", FIXTURE / "make_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (FIXTURE / "tables.json").read_text(encoding="utf-8")


def test_precision_and_recall_on_the_labelled_fixture(lineage: pd.DataFrame) -> None:
    truth = read_labels(FIXTURE / "labels.csv")
    assert len(truth) == 91  # labels.csv rows with a previous node, counted by hand
    precision, recall = evaluate(predicted_links(lineage), truth)
    print(f"lineage fixture: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95
    assert recall >= 0.95


def test_fixture_scores_for_the_bench() -> None:
    scores = fixture_scores(FIXTURE)
    assert scores["true_links"] == 91
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95


def test_evaluate_counts_links() -> None:
    a = (("minato", "issue", 2023, "1"), (2022, "1"))
    b = (("minato", "issue", 2023, "2"), (2022, "2"))
    c = (("minato", "issue", 2023, "3"), (2022, "4"))
    assert evaluate({a, b, c}, {a, b}) == (pytest.approx(2 / 3), 1.0)
    assert evaluate({a}, {a, b}) == (1.0, 0.5)


def test_labelled_cases(lineage: pd.DataFrame) -> None:
    moved = _row(lineage, "minato-2023", "initiative", "3-3-2")  # from 4-2-1, other issue
    assert (moved["linked_from"], moved["lineage_id"]) == (
        "minato-2022",
        "minato-initiative-2022-4-2-1",
    )
    assert moved["method"] == "title" and moved["score"] == 1.0
    taker = _row(lineage, "minato-2023", "initiative", "4-2-1")  # new item, the freed code
    assert (taker["linked_from"], taker["method"]) == (None, "new")
    back = _row(lineage, "minato-2024", "initiative", "6-1-2")  # missing in 2023
    assert (back["linked_from"], back["lineage_id"]) == (
        "minato-2022",
        "minato-initiative-2022-6-1-3",
    )
    distractor = _row(lineage, "tsurumi-2024", "initiative", "4-1-1")  # 地域防災力の向上
    assert (distractor["method"], distractor["lineage_id"]) == (
        "new",
        "tsurumi-initiative-2024-4-1-1",
    )
    renamed = _row(lineage, "tsurumi-2023", "issue", "4")  # 安全な → 災害に強く安全な
    assert (renamed["method"], renamed["lineage_id"]) == ("code+title", "tsurumi-issue-2022-4")
    codeless = lineage[
        (lineage["policy_id"] == "minato-2024")
        & (lineage["level"] == "strategy")
        & (lineage["issue_position"] == 2)
        & (lineage["position"] == 1)
    ].iloc[0]
    assert codeless["title"] == "地域防災力の強化"
    assert (codeless["method"], codeless["lineage_id"]) == ("parent", "minato-strategy-2022-2-1")


def test_table_follows_its_spec(lineage: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    assert list(lineage.columns) == LINEAGE.names
    assert len(lineage) == sum(len(tables[t]) for t in ("issues", "strategies", "initiatives"))
    assert not lineage.duplicated(subset=list(LINEAGE.key)).any()
    assert set(lineage["method"]) <= set(METHODS)
    issues = lineage[lineage["level"] == "issue"]
    assert issues["strategy_position"].isna().all() and issues["position"].isna().all()
    strategies = lineage[lineage["level"] == "strategy"]
    # a strategy is named as in the strategies table: issue_position + position
    assert strategies["strategy_position"].isna().all() and strategies["position"].notna().all()
    assert (lineage["node_key"].str.count(r"\.") == lineage["level"].map(LEVELS.index)).all()
    assert lineage[lineage["level"] == "initiative"]["position"].notna().all()
    starts = lineage["linked_from"].isna()
    assert lineage.loc[starts, "score"].isna().all()
    assert lineage.loc[~starts, "score"].between(WEAK_LINK, 1.0).all()
    assert lineage["score"].dtype == "float64"
    for column in LINEAGE.columns:
        assert column.ja and column.en


# --- stable ids ---------------------------------------------------------------------------


def test_rebuilding_gives_the_same_table(tables: dict[str, pd.DataFrame]) -> None:
    first = _build(tables)
    pd.testing.assert_frame_equal(first, _build(tables))
    pd.testing.assert_frame_equal(first, _build(tables, previous=first))


def test_adding_a_later_year_keeps_every_id(
    tables: dict[str, pd.DataFrame], lineage: pd.DataFrame
) -> None:
    two_years = _build(
        _only(tables, {"minato-2022", "minato-2023", "tsurumi-2022", "tsurumi-2023"})
    )
    full = _ids(lineage)
    for key, lineage_id in _ids(two_years).items():
        assert full[key] == lineage_id


def test_adding_an_earlier_year_keeps_ids_given_the_previous_table(
    tables: dict[str, pd.DataFrame],
) -> None:
    later = _build(_only(tables, {"minato-2023", "minato-2024", "tsurumi-2023", "tsurumi-2024"}))
    with_previous = _ids(_build(tables, previous=later))
    for key, lineage_id in _ids(later).items():
        assert with_previous[key] == lineage_id
    # Without it, 2023's lineages would be named after their 2022 nodes.
    assert _ids(_build(tables))[("minato-2023", "1")] == "minato-issue-2022-1"
    assert with_previous[("minato-2022", "1")] == "minato-issue-2023-1"


def test_a_ward_missing_a_year_links_across_the_gap(tables: dict[str, pd.DataFrame]) -> None:
    lineage = _build(_only(tables, {"tsurumi-2022", "tsurumi-2024"}))
    learning = _row(lineage, "tsurumi-2024", "initiative", "3-1-1")  # 生涯学習の推進
    assert (learning["linked_from"], learning["lineage_id"]) == (
        "tsurumi-2022",
        "tsurumi-initiative-2022-3-1-1",
    )


# --- small synthetic cases ------------------------------------------------------------------


def _tables(nodes: list[tuple[str, str, str, str | None]]) -> dict[str, pd.DataFrame]:
    """(policy_id, 'pI' | 'pI.S' | 'pI.S.N', title, description) → the four core tables."""
    return core_tables(
        (pid, path, title, description, None) for pid, path, title, description in nodes
    )


def _links(lineage: pd.DataFrame) -> dict[tuple[str, str], str | None]:
    """(policy_id, path) → path of the node it is linked from (None: starts a lineage)."""
    by_lineage = {}
    paths = {}
    for r in lineage.to_dict("records"):
        parts = [r["issue_position"], r["strategy_position"], r["position"]]
        path = "p" + ".".join(str(int(p)) for p in parts if not pd.isna(p))
        paths[(r["policy_id"], path)] = r
        by_lineage[(r["lineage_id"], r["policy_id"])] = path
    return {
        key: None if r["linked_from"] is None else by_lineage[(r["lineage_id"], r["linked_from"])]
        for key, r in paths.items()
    }


def test_equal_titles_follow_their_parents_then_their_descriptions() -> None:
    nodes = [
        ("kita-2020", "p1", "安全なまちづくり", None),
        ("kita-2020", "p1.1", "防災対策の推進", None),
        ("kita-2020", "p1.1.1", "講習会の開催", "避難所の開設と運営の手順を学ぶ講習会を開く。"),
        ("kita-2020", "p1.2", "健康づくりの推進", None),
        ("kita-2020", "p1.2.1", "講習会の開催", "生活習慣病を防ぐ食事と運動の講習会を開く。"),
        ("kita-2020", "p1.2.2", "講習会の開催", "認知症の人を支える家族向けの講習会を開く。"),
        ("kita-2021", "p1", "安全なまちづくり", None),
        ("kita-2021", "p1.1", "健康づくりの推進", None),  # the two strategies swap places
        ("kita-2021", "p1.1.1", "講習会の開催", "認知症の人を支える家族向けの講習会を開く。"),
        ("kita-2021", "p1.1.2", "講習会の開催", "生活習慣病を防ぐ食事と運動の講習会を開く。"),
        ("kita-2021", "p1.2", "防災対策の推進", None),
        ("kita-2021", "p1.2.1", "講習会の開催", "避難所の開設と運営の手順を学ぶ講習会を開く。"),
    ]
    links = _links(build_lineage(**_kw(_tables(nodes)))[0])
    assert links[("kita-2021", "p1.1")] == "p1.2"
    assert links[("kita-2021", "p1.2")] == "p1.1"
    assert links[("kita-2021", "p1.2.1")] == "p1.1.1"  # parent lineage decides
    assert links[("kita-2021", "p1.1.1")] == "p1.2.2"  # same parent: description decides
    assert links[("kita-2021", "p1.1.2")] == "p1.2.1"


def test_an_item_missing_two_years_starts_again() -> None:
    nodes = [
        ("kita-2019", "p1", "区政運営の推進", None),
        ("kita-2020", "p1", "子育て支援の充実", None),
        ("kita-2021", "p1", "子育て支援の充実", None),
        ("kita-2022", "p1", "区政運営の推進", None),
    ]
    links = _links(build_lineage(**_kw(_tables(nodes)))[0])
    assert links[("kita-2021", "p1")] == "p1"
    assert links[("kita-2022", "p1")] is None  # 2019 is two missing years back
    nodes.pop(2)  # without 2021: 2020 is one year back, 2019 two → still none
    links = _links(build_lineage(**_kw(_tables(nodes)))[0])
    assert links[("kita-2022", "p1")] is None


def _kw(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: tables[name] for name in ("policies", "issues", "strategies", "initiatives")}


# --- overrides ----------------------------------------------------------------------------


def test_the_shipped_overrides_file_is_empty_and_valid() -> None:
    text = (ROOT / "data" / "lineage-overrides.csv").read_text(encoding="utf-8")
    assert parse_overrides(text) == ([], [])
    header = next(line for line in text.splitlines() if not line.startswith("#"))
    assert header.split(",") == list(FIELD_NAMES)


def test_action_examples_parse() -> None:
    for action in ACTIONS:
        overrides, errors = parse_overrides(",".join(FIELD_NAMES) + "\n" + action.example)
        assert errors == [] and [o.action for o in overrides] == [action.name]


def test_bad_override_rows_become_messages() -> None:
    header = ",".join(FIELD_NAMES)
    text = "\n".join(
        [
            header,
            "merge,minato,issue,minato-2022,1,minato-2023,1,typo",
            "join,minato,goal,minato-2022,1,minato-2023,1,",
            "join,minato,issue,minato-2022,1",
            "join,minato,issue,,1,minato-2023,1,",
            "split,minato,issue,minato-2022,1,minato-2023,1,fine",
        ]
    )
    overrides, errors = parse_overrides(text)
    assert [o.line for o in overrides] == [6]
    assert errors == [
        "lineage-overrides.csv line 2: unknown action 'merge' (use ('join', 'split', 'apart'))",
        "lineage-overrides.csv line 3: unknown level 'goal' "
        "(use ('issue', 'strategy', 'initiative'))",
        "lineage-overrides.csv line 4: 5 fields, expected 8",
        "lineage-overrides.csv line 5: empty from_policy_id",
    ]
    assert parse_overrides("action,ward,level\n")[1][0].startswith(
        "lineage-overrides.csv line 1: header must be"
    )


def test_overrides_split_and_join(tables: dict[str, pd.DataFrame]) -> None:
    header = ",".join(FIELD_NAMES)
    text = "\n".join(
        [
            header,
            # 2023 p2.1 防災対策の充実・強化 no longer continues 2022 2-1: it starts a lineage
            "split,minato,strategy,minato-2022,2-1,minato-2023,p2.1,test",
            # 鶴見 2024 地域防災力の向上 declared the successor of 2023 地域福祉力の向上
            "join,tsurumi,initiative,tsurumi-2023,1-1-1,tsurumi-2024,4-1-1,test",
            "join,tsurumi,initiative,tsurumi-2023,9-9-9,tsurumi-2024,4-1-1,unknown node",
            "join,tsurumi,initiative,tsurumi-2024,4-1-1,tsurumi-2023,1-1-1,backwards",
            "split,minato,issue,minato-2022,1,minato-2023,2,not linked",
            "join,minato,issue,minato-2022,1,tsurumi-2023,1,two wards",
        ]
    )
    overrides, parse_errors = parse_overrides(text)
    assert parse_errors == []
    lineage, errors = build_lineage(
        tables["policies"],
        tables["issues"],
        tables["strategies"],
        tables["initiatives"],
        overrides=overrides,
    )
    assert errors == [
        "lineage override line 4 (join): no initiative '9-9-9' in tsurumi-2023",
        "lineage override line 5 (join): tsurumi-2024 is not earlier than tsurumi-2023",
        "lineage override line 6 (split): 2 is not linked from 1",
        "lineage override line 7 (join): nodes are not both of ward 'minato'",
    ]
    strategies = lineage[
        (lineage["ward_slug"] == "minato")
        & (lineage["level"] == "strategy")
        & (lineage["issue_position"] == 2)
        & (lineage["position"] == 1)
    ].set_index("policy_id")
    assert strategies.loc["minato-2022", "lineage_id"] == "minato-strategy-2022-2-1"
    assert strategies.loc["minato-2023", "method"] == "manual"
    assert strategies.loc["minato-2023", "linked_from"] is None
    # 2024 still follows 2023, so it moves with it to the new lineage.
    assert strategies.loc["minato-2023", "lineage_id"] == "minato-strategy-2023-p2.1"
    assert strategies.loc["minato-2024", "lineage_id"] == "minato-strategy-2023-p2.1"
    joined = _row(lineage, "tsurumi-2024", "initiative", "4-1-1")
    assert (joined["method"], joined["linked_from"], joined["lineage_id"]) == (
        "manual",
        "tsurumi-2023",
        "tsurumi-initiative-2022-1-1-1",
    )
