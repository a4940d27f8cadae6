"""One truth (issue 18): every surface shows, for every node and year, the `nodes` table's
amount (`thousand_yen`, marked as a sum where `printed` is false) and puts the node under
its own parent; no surface prints a missing value as nan/None/<NA>/….

Run on two builds: the multi-year TEST corpus (tests/fixtures/multiyear: three wards, four
years each, three page eras, drafts and revisions) and a store of the benchmark's shape.
Surfaces: the SQLite database (its nodes table and the initiatives_full view), `history
--format json` for every ward, `search --format json`, `parse --format summary` of every
current page, and every page of the report.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei.cli import app
from osaka_unei.db.datasette import DATABASE_FILE
from osaka_unei.publish.report import write_report

from .multiyear import Built, bench_build, multiyear_build
from .properties import (
    amounts_in_html,
    assert_amount_cells_agree,
    missing_tokens,
    repeated_ticks,
)

Key = tuple[str, str]  # (policy_id, node_key)
QUERIES = ("地域", "防災", "子育て", "支援", "まちづくり")


@pytest.fixture(scope="module", params=["multiyear", "bench"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    make = multiyear_build if request.param == "multiyear" else bench_build
    return make(tmp_path_factory)


def _nodes(built: Built) -> pd.DataFrame:
    return built.tables["nodes"]


def _truth(built: Built) -> dict[Key, tuple[int | None, bool | None]]:
    nodes = _nodes(built)
    return {
        (row.policy_id, row.node_key): (
            None if pd.isna(row.thousand_yen) else int(row.thousand_yen),
            None if pd.isna(row.printed) else bool(row.printed),
        )
        for row in nodes.itertuples(index=False)
    }


def _cli(built: Built, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--processed-dir", str(built.out)])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def test_the_database_holds_the_same_amounts(built: Built) -> None:
    conn = sqlite3.connect(built.out / DATABASE_FILE)
    try:
        rows = conn.execute("SELECT policy_id, node_key, thousand_yen, printed FROM nodes")
        found = {
            (pid, key): (amount, None if printed is None else bool(printed))
            for pid, key, amount, printed in rows
        }
        view = conn.execute(
            "SELECT policy_id, node_key, budget_thousand_yen FROM initiatives_full"
        ).fetchall()
    finally:
        conn.close()
    assert found == _truth(built)
    printed = _nodes(built).set_index(["policy_id", "node_key"])["budget_thousand_yen"]
    assert len(view) == int((_nodes(built)["level"] == "initiative").sum())
    for pid, key, amount in view:
        expected = printed[(pid, key)]
        assert amount == (None if pd.isna(expected) else int(expected)), (pid, key)


def test_history_shows_the_amounts_under_their_own_parents(built: Built) -> None:
    truth = _truth(built)
    nodes = _nodes(built).set_index(["policy_id", "node_key"])
    seen: set[Key] = set()
    for ward in sorted(set(_nodes(built)["ward_slug"])):
        text = _cli(built, "history", ward, "--format", "json")
        for record in json.loads(text):
            key = (record["policy_id"], record["node_key"])
            assert (record["thousand_yen"], record["printed"]) == truth[key], (ward, key)
            node = nodes.loc[key]
            assert record["fiscal_year"] == node["fiscal_year"]
            # under its own parent, in its own year
            expected_parent = node["parent_lineage_id"]
            assert record["parent_lineage_id"] == (
                None if pd.isna(expected_parent) else expected_parent
            ), key
            seen.add(key)
        assert not missing_tokens(_cli(built, "history", ward)), ward
    assert seen == set(truth)  # every node of every year, once at least


def test_search_shows_the_same_amounts(built: Built) -> None:
    truth = _truth(built)
    hits = 0
    for query in QUERIES:
        for record in json.loads(_cli(built, "search", query, "--format", "json")):
            key = (record["policy_id"], record["node_key"])
            assert (record["thousand_yen"], record["printed"]) == truth[key], (query, key)
            hits += 1
        assert not missing_tokens(_cli(built, "search", query)), query
    assert hits > 0


_SUMMARY_ROW = re.compile(r"^\s*(経営課題|戦略|具体的取組)\S*.*?(—|[\d,]+ 千円)( \(計\))?$")


def _summary_amounts(text: str) -> Iterator[tuple[int | None, bool | None]]:
    for line in text.splitlines():
        match = _SUMMARY_ROW.match(line)
        if match is None:
            continue
        amount = match.group(2)
        if amount == "—":
            yield None, None
        else:
            yield int(amount.removesuffix(" 千円").replace(",", "")), match.group(3) is None


def test_summary_shows_the_same_amounts(built: Built) -> None:
    """`parse --format summary` of each current page lists its nodes in tree order, each
    with the nodes table's amount for that year."""
    versions = built.tables["versions"]
    current = versions[versions["is_current"]]
    nodes = _nodes(built)
    for path, policy_id in zip(current["path"], current["policy_id"], strict=True):
        result = CliRunner().invoke(app, ["parse", str(built.raw / path), "--format", "summary"])
        assert result.exit_code == 0, result.output
        shown = list(_summary_amounts(result.stdout))
        mine = nodes[nodes["policy_id"] == policy_id]
        expected = [
            (
                None if pd.isna(amount) else int(amount),
                None if pd.isna(amount) else bool(printed),
            )
            for amount, printed in zip(mine["thousand_yen"], mine["printed"], strict=True)
        ]
        assert shown == expected, path
        assert not missing_tokens(result.stdout), path


def _pages(site: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(site.rglob("*.html")):
        yield path.relative_to(site).as_posix(), path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "report"
    write_report(built.out, built.raw, built.raw / "no-registry.csv", out)
    return out


def test_the_report_shows_the_same_amounts(built: Built, site: Path) -> None:
    nodes = _nodes(built)
    cells = 0
    for name, html in _pages(site):
        found = amounts_in_html(html)
        assert_amount_cells_agree(found, nodes)
        cells += len(found)
        assert not missing_tokens(html), (name, missing_tokens(html)[:3])
        assert not repeated_ticks(html), (name, repeated_ticks(html)[:3])
    # every node of every year is shown somewhere with its amount
    shown = {
        (cell.policy_id, cell.node_key)
        for _, html in _pages(site)
        for cell in amounts_in_html(html)
    }
    assert shown >= set(_truth(built)), len(set(_truth(built)) - shown)
    assert cells > len(nodes)


def test_every_report_tree_row_sits_under_its_own_parent(built: Built, site: Path) -> None:
    """In each ward page's tree, a strategy's row follows its own issue's row, and an
    initiative's its own strategy's (the rows of one policy in page order)."""
    parents = {
        (row.policy_id, row.node_key): row.parent_key
        for row in _nodes(built).itertuples(index=False)
    }
    checked = 0
    for name, html in _pages(site):
        if not name.startswith("wards/"):
            continue
        last: dict[tuple[str, int], str] = {}  # (policy, depth) → last node_key seen
        for cell in amounts_in_html(html):
            pid, key = cell.policy_id, cell.node_key
            depth = key.count(".")
            parent: Any = parents[(pid, key)]
            if parent is not None and not pd.isna(parent):
                assert last.get((pid, depth - 1)) == parent, (name, pid, key)
                checked += 1
            last[(pid, depth)] = key
    assert checked > 0


def test_report_theme_totals_are_budget_by_theme_per_year(built: Built, site: Path) -> None:
    """The index's budget by theme is analysis.themes.budget_by_theme (each main amount once,
    the rule of the totals) added up per fiscal year: different years never added."""
    from osaka_unei.analysis.themes import budget_by_theme

    expected = (
        budget_by_theme(built.tables, built.tables["themes"])
        .groupby(["theme", "fiscal_year"])["budget_thousand_yen"]
        .sum()
    )
    html = (site / "index.html").read_text(encoding="utf-8")
    cells = re.findall(r'data-theme="([^"]+)" data-year="(\d+)" data-thousand-yen="(\d*)"', html)
    assert cells
    for theme, year, amount in cells:
        want = expected.get((theme, int(year)))
        assert (int(amount) if amount else None) == (None if want is None else int(want)), (
            theme,
            year,
        )
