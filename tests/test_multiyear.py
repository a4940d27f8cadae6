"""End to end on the multi-year TEST corpus (tests/fixtures/multiyear, 3 wards × 4 years, 16
stored versions): one build per session, checked against the hand-written expect.json —
counts and 千円 totals of every policy, lineage across renamed / renumbered / reordered
items and gaps, the versions and changes of drafts and revisions, a clean parse report.
Also: the corpus is what its generator writes, is labelled as test material everywhere,
and never reaches data/; and a small store of the benchmark's shape builds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .multiyear import (
    BENCH_VERSIONS,
    MULTIYEAR,
    MULTIYEAR_RAW,
    Built,
    bench_build,
    load_expect,
    multiyear_build,
)

ROOT = Path(__file__).resolve().parent.parent
EXPECT = load_expect()
POLICIES: dict[str, dict[str, Any]] = EXPECT["policies"]
LINEAGE = EXPECT["lineage"]


@pytest.fixture(scope="session")
def multiyear(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return multiyear_build(tmp_path_factory)


@pytest.fixture(scope="session")
def bench_store(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return bench_build(tmp_path_factory)


def _value(value: Any) -> Any:
    """A table cell as plain Python: NA → None, numpy ints → int."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _key(row: dict[str, Any], level: str) -> str:
    if level == "issue":
        return str(int(row["issue_position"]))
    if level == "strategy":
        return f"{int(row['issue_position'])}.{int(row['position'])}"
    return f"{int(row['issue_position'])}.{int(row['strategy_position'])}.{int(row['position'])}"


def main_budgets(tables: dict[str, pd.DataFrame], policy_id: str) -> dict[str, int | None]:
    """Every node of the policy that carries a main amount, by node key."""
    found: dict[str, int | None] = {}
    for level, table in (
        ("issue", "issues"),
        ("strategy", "strategies"),
        ("initiative", "initiatives"),
    ):
        frame = tables[table]
        for row in frame[frame["policy_id"] == policy_id].to_dict("records"):
            amount = _value(row["budget_thousand_yen"])
            if amount is not None:
                found[_key(row, level)] = amount
    return found


# --- the corpus itself ------------------------------------------------------------------------


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_corpus", MULTIYEAR / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module
    spec.loader.exec_module(module)
    return module


def test_corpus_is_what_its_generator_writes() -> None:
    assert _generator().differences() == [], "run tests/fixtures/multiyear/make_corpus.py"


def test_every_page_is_labelled_test_material() -> None:
    from osaka_unei.store import read_manifest

    records = read_manifest(MULTIYEAR_RAW)
    assert len(records) == EXPECT["versions"]["total"]
    for record in records:
        assert record.message and record.message.startswith("TEST MATERIAL"), record.path
        assert record.path is not None
        text = (MULTIYEAR_RAW / record.path).read_text(encoding="utf-8")
        assert "※TEST MATERIAL(テスト用資料)" in text, record.path
        if record.path.endswith(".html"):
            assert "<!-- TEST MATERIAL" in text, record.path


def test_test_material_never_reaches_the_published_data() -> None:
    for path in (ROOT / "data" / "raw").rglob("*"):
        if path.is_file():
            assert b"TEST MATERIAL" not in path.read_bytes(), path


# --- (a) every policy parsed with the expected counts and totals --------------------------------


def test_every_policy_is_built(multiyear: Built) -> None:
    policies = multiyear.tables["policies"]
    assert sorted(policies["policy_id"]) == sorted(POLICIES)
    for ward, years in EXPECT["missing_years"].items():
        built = set(policies.loc[policies["ward_slug"] == ward, "fiscal_year"])
        assert not built & set(years), ward
        assert len(built) == 4, ward


@pytest.mark.parametrize("policy_id", sorted(POLICIES))
def test_policy_counts_and_totals(multiyear: Built, policy_id: str) -> None:
    expected = POLICIES[policy_id]
    tables = multiyear.tables
    row = tables["policies"].set_index("policy_id").loc[policy_id]
    for column in (
        "ward",
        "fiscal_year",
        "draft",
        "page_id",
        "n_issues",
        "n_strategies",
        "n_initiatives",
        "total_budget_thousand_yen",
    ):
        assert _value(row[column]) == expected[column], column
    assert main_budgets(tables, policy_id) == expected["main_budgets"]
    # the level tables hold as many rows as the counts say
    for table, count in (
        ("issues", "n_issues"),
        ("strategies", "n_strategies"),
        ("initiatives", "n_initiatives"),
    ):
        assert (tables[table]["policy_id"] == policy_id).sum() == expected[count], table


@pytest.mark.parametrize("policy_id", sorted(POLICIES))
def test_nodes_table_shows_the_expected_amounts(multiyear: Built, policy_id: str) -> None:
    """The nodes table (the amount every surface shows): each issue's thousand_yen as the
    hand-written issues_shown, printed where the page prints it, summed where not; every
    printed main amount shown as printed; every parent in the same policy."""
    expected = POLICIES[policy_id]
    nodes = multiyear.tables["nodes"]
    mine = nodes[nodes["policy_id"] == policy_id]
    assert len(mine) == expected["n_issues"] + expected["n_strategies"] + expected["n_initiatives"]
    issues = mine[mine["level"] == "issue"]
    shown = {row["node_key"]: _value(row["thousand_yen"]) for row in issues.to_dict("records")}
    assert shown == expected["issues_shown"]
    for row in mine.to_dict("records"):
        key, amount, printed = row["node_key"], _value(row["thousand_yen"]), _value(row["printed"])
        if key in expected["main_budgets"]:
            assert (amount, printed) == (expected["main_budgets"][key], True), key
        elif amount is None:
            assert printed is None, key
        else:
            assert printed is False, key  # the sum of its children
    keys = set(mine["node_key"])
    assert {_value(k) for k in mine["parent_key"]} - {None} <= keys


def test_unnumbered_strategies_have_no_codes(multiyear: Built) -> None:
    strategies = multiyear.tables["strategies"]
    unnumbered = strategies["policy_id"].isin(EXPECT["unnumbered_strategies"])
    assert strategies.loc[unnumbered, "strategy_code"].isna().all()
    assert strategies.loc[~unnumbered, "strategy_code"].notna().all()


# --- (b) lineage -----------------------------------------------------------------------------


def _lineage_ids(built: Built) -> dict[tuple[str, str, str], str]:
    lineage = built.tables["lineage"]
    return {
        (row["level"], row["policy_id"], row["node_key"]): row["lineage_id"]
        for row in lineage.to_dict("records")
    }


def _link_id(link: list[str]) -> str:
    level, from_policy, from_key, to_policy, to_key = link[:5]
    return f"{level} {from_policy}:{from_key}→{to_policy}:{to_key}"


@pytest.mark.parametrize("link", LINEAGE["links"], ids=_link_id)
def test_lineage_links(multiyear: Built, link: list[str]) -> None:
    level, from_policy, from_key, to_policy, to_key, why = link
    ids = _lineage_ids(multiyear)
    assert ids[(level, from_policy, from_key)] == ids[(level, to_policy, to_key)], why


@pytest.mark.parametrize("pair", LINEAGE["distinct"], ids=_link_id)
def test_lineage_keeps_distinct_items_apart(multiyear: Built, pair: list[str]) -> None:
    level, from_policy, from_key, to_policy, to_key, why = pair
    ids = _lineage_ids(multiyear)
    assert ids[(level, from_policy, from_key)] != ids[(level, to_policy, to_key)], why


@pytest.mark.parametrize("node", LINEAGE["new"], ids=lambda n: f"{n[0]} {n[1]}:{n[2]}")
def test_lineage_new_items_start_a_lineage(multiyear: Built, node: list[str]) -> None:
    level, policy_id, key, title = node
    lineage = multiyear.tables["lineage"]
    row = lineage[
        (lineage["level"] == level)
        & (lineage["policy_id"] == policy_id)
        & (lineage["node_key"] == key)
    ].iloc[0]
    assert title.startswith(row["title"])
    assert _value(row["linked_from"]) is None and row["method"] == "new"


def test_every_node_has_one_lineage_row(multiyear: Built) -> None:
    tables = multiyear.tables
    nodes = sum(len(tables[name]) for name in ("issues", "strategies", "initiatives"))
    lineage = tables["lineage"]
    assert len(lineage) == nodes
    assert not lineage.duplicated(["policy_id", "level", "node_key"]).any()


# --- (c) versions and changes --------------------------------------------------------------------


def test_versions_per_policy(multiyear: Built) -> None:
    versions = multiyear.tables["versions"]
    assert len(versions) == EXPECT["versions"]["total"]
    assert versions.groupby("policy_id").size().to_dict() == EXPECT["versions"]["per_policy"]
    # one current version per policy, and every version parsed
    assert versions.groupby("policy_id")["is_current"].sum().eq(1).all()
    assert set(versions["parse_status"]) == {"ok"}


def _change_row(row: dict[str, Any]) -> list[Any]:
    node = row["level"] != "policy"
    return [
        row["policy_id"],
        row["comparison"],
        row["change"],
        row["level"],
        _value(row["code"]) if node else None,
        row["title"] if node else row["field"],
        _value(row["old_budget_thousand_yen"]),
        _value(row["new_budget_thousand_yen"]),
    ]


def test_changes_draft_to_final_and_revisions(multiyear: Built) -> None:
    changes = multiyear.tables["changes"]
    rows = [_change_row(row) for row in changes.to_dict("records")]
    assert rows == EXPECT["changes"]["rows"]


# --- (d) the parse report ---------------------------------------------------------------------------


def test_parse_report_has_no_errors_or_warnings(multiyear: Built) -> None:
    report = multiyear.tables["parse_report"]
    assert len(report) == EXPECT["versions"]["total"]
    problems = report[~report["status"].isin(["ok", "superseded"])]
    assert problems.empty, problems[["path", "status", "messages"]].to_dict("records")
    versions = multiyear.tables["versions"].set_index("path")
    superseded = sorted(
        [
            versions.loc[path, "policy_id"],
            versions.loc[path, "page_id"],
            versions.loc[path, "fetched_at"].date().isoformat(),
        ]
        for path in report.loc[report["status"] == "superseded", "path"]
    )
    assert superseded == [row[:3] for row in EXPECT["versions"]["superseded"]]
    assert not versions.loc[superseded_paths(report), "is_current"].any()


def superseded_paths(report: pd.DataFrame) -> list[str]:
    return list(report.loc[report["status"] == "superseded", "path"])


def test_every_policy_notes_say_test_material(multiyear: Built) -> None:
    """The label is kept by the parser (in notes), so a built table shows where it came from."""
    from osaka_unei.parse import parse_page

    for record in multiyear.tables["versions"].to_dict("records"):
        policy = parse_page(MULTIYEAR_RAW / record["path"])
        assert any(note.startswith("※TEST MATERIAL") for note in policy.notes), record["path"]


# --- the benchmark's store, smaller ------------------------------------------------------------------


def test_bench_store_builds(bench_store: Built) -> None:
    tables = bench_store.tables
    assert len(tables["versions"]) == BENCH_VERSIONS
    assert len(tables["policies"]) == BENCH_VERSIONS // 4
    assert tables["policies"]["ward_slug"].nunique() == 24
    report = tables["parse_report"]
    assert not (report["status"] == "error").any()
