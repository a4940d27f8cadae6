"""The command line's views (osaka_unei.views) over a multi-year dataset: the lineage
fixture (港区 and 鶴見区, 2022–2024) through the real node model and database writer.

Every number the views show is checked against the `nodes` table, every row's place in the
history tree against its node's parent that year."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from osaka_unei.cli import app
from osaka_unei.views import history as history_view
from osaka_unei.views.search import highlight
from osaka_unei.views.summary import fit
from osaka_unei.views.text import DATABASE_FILE, amount, open_database
from osaka_unei.wards import WARDS, resolve_ward
from tests.multiyear import multiyear_build
from tests.views_data import multiyear_tables, write_dataset

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
WIDE = {"COLUMNS": "250"}
# What a missing value must never print as, in any text output.
MISSING = re.compile(r"\b(nan|NaN|None|NaT|null|undefined)\b|<NA>")


@pytest.fixture(scope="module")
def nodes() -> pd.DataFrame:
    return multiyear_tables()["nodes"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("multiyear"))


def _run(*args: str, env: dict[str, str] | None = None, code: int = 0) -> str:
    result = runner.invoke(app, [*args], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _shown(nodes: pd.DataFrame) -> dict[tuple[str, str], tuple[int | None, bool | None]]:
    """(policy_id, node_key) → the nodes table's amount shown and printed flag."""
    return {
        (row.policy_id, row.node_key): (
            None if pd.isna(row.thousand_yen) else int(row.thousand_yen),
            None if pd.isna(row.printed) else bool(row.printed),
        )
        for row in nodes.itertuples()
    }


# --- history: the tree per year, the amounts of the nodes table ----------------------------


def _table_rows(text: str) -> list[list[str]]:
    return [[cell for cell in line.split("│")[1:-1]] for line in text.splitlines() if "│" in line]


def _check_tree(out: str, nodes: pd.DataFrame) -> int:
    """Every amount cell of a history table sits in the row of its node's lineage, under
    the row (by indentation) of its parent's lineage that year; returns the cells seen."""
    parent = {
        (row.lineage_id, int(row.fiscal_year)): row.parent_lineage_id for row in nodes.itertuples()
    }
    years = sorted({year for _, year in parent})
    stack: list[str] = []
    placed = 0
    for cells in _table_rows(out):
        title, lineage_id = cells[1], cells[-1].strip()
        depth = (len(title) - len(title.lstrip(" ")) - 1) // 2
        stack = [*stack[:depth], lineage_id]
        above = stack[depth - 1] if depth else None
        for year, cell in zip(years, cells[2 : 2 + len(years)], strict=True):
            if cell.strip():
                own = parent[(lineage_id, year)]
                assert (None if pd.isna(own) else own) == above, (year, title.strip())
                placed += 1
    return placed


@pytest.mark.parametrize("ward", ["minato", "tsurumi"])
def test_every_node_sits_under_its_own_parent_in_history(
    dataset: Path, nodes: pd.DataFrame, ward: str
) -> None:
    # Before: rows were ordered by their latest node, so 2022's 子育て支援機関との連携強化…
    # sat under 2022's セーフティネットの充実 and 2023's 防犯カメラの設置支援 under 区の広聴・広報.
    out = _run("history", ward, "--processed-dir", str(dataset), env=WIDE)
    mine = nodes[nodes["ward_slug"] == ward]
    assert _check_tree(out, mine) == len(mine)  # every node of the ward, once


def test_history_on_the_multiyear_corpus(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The corpus of three page eras, drafts and revisions: every ward's tree and amounts."""
    built = multiyear_build(tmp_path_factory)
    nodes = built.tables["nodes"]
    shown = _shown(nodes)
    for ward in sorted(set(nodes["ward_slug"])):
        mine = nodes[nodes["ward_slug"] == ward]
        where = ("--processed-dir", str(built.out))
        out = _run("history", ward, *where, env=WIDE)
        assert _check_tree(out, mine) == len(mine), ward
        assert not MISSING.search(out), (ward, MISSING.search(out))
        for record in json.loads(_run("history", ward, "--format", "json", *where)):
            key = (record["policy_id"], record["node_key"])
            assert (record["thousand_yen"], record["printed"]) == shown[key]


def test_history_amounts_are_the_nodes_tables(dataset: Path, nodes: pd.DataFrame) -> None:
    # Before: an issue whose page prints no amount showed —, the report the sum 32,550.
    out = _run("history", "港区", "--processed-dir", str(dataset), env=WIDE)
    issue = next(cells for cells in _table_rows(out) if "minato-issue-2022-1" in cells[-1])
    assert [cell.strip() for cell in issue[2:5]] == ["32,550 (計)", "34,200 (計)", "35,300 (計)"]
    records = json.loads(
        _run("history", "minato", "--format", "json", "--processed-dir", str(dataset))
    )
    shown = _shown(nodes)
    assert len(records) == (nodes["ward_slug"] == "minato").sum()
    for record in records:
        assert list(record) == list(history_view.FIELDS)
        key = (record["policy_id"], record["node_key"])
        assert (record["thousand_yen"], record["printed"]) == shown[key]
    first = records[0]
    assert first["lineage_id"] == "minato-issue-2022-1" and first["parent_lineage_id"] is None
    assert (first["fiscal_year"], first["thousand_yen"], first["printed"]) == (2022, 32550, False)


def test_history_csv_is_the_json_as_rows(dataset: Path) -> None:
    args = ("history", "tsurumi", "虐待", "--processed-dir", str(dataset))
    records = json.loads(_run(*args, "--format", "json"))
    rows = list(csv.DictReader(io.StringIO(_run(*args, "--format", "csv"))))
    assert [row["node_key"] for row in rows] == [record["node_key"] for record in records]
    assert {row["printed"] for row in rows} <= {"true", "false", ""}
    # the matching initiative, with the strategy and issue it sits under, every year
    assert [r["level"] for r in records[::3]] == ["issue", "strategy", "initiative"]
    assert [r["thousand_yen"] for r in records if r["level"] == "initiative"] == [
        13989,
        14200,
        14300,
    ]


def test_history_query_keeps_the_items_above(dataset: Path) -> None:
    out = _run("history", "鶴見", "虐待", "--processed-dir", str(dataset), env=WIDE)
    rows = _table_rows(out)
    assert [cells[0].strip() for cells in rows] == ["経営課題", "戦略", "具体的取組"]
    assert [cell.strip() for cell in rows[2][2:5]] == ["13,989", "14,200", "14,300"]


def test_a_lineage_that_changed_parent_has_a_row_under_each(dataset: Path) -> None:
    view = history_view.history(open_database(dataset), resolve_ward("tsurumi"), "防犯対策")
    rows = [row for _, row in view.rows if row.latest["title"] == "地域の防犯対策"]
    assert len(rows) == 2 and rows[0].key[-1] == rows[1].key[-1]  # one lineage
    assert {tuple(row.cells) for row in rows} == {(2023,), (2024,)}


# --- search ---------------------------------------------------------------------------------


def test_search_records_carry_the_nodes_amounts(dataset: Path, nodes: pd.DataFrame) -> None:
    records = json.loads(
        _run("search", "防犯", "--format", "json", "--processed-dir", str(dataset))
    )
    assert records and {r["ward"] for r in records} == {"港区", "鶴見区"}
    shown = _shown(nodes)
    for record in records:
        assert {"policy_id", "node_key", "level", "ward", "fiscal_year", "title"} <= set(record)
        assert (record["thousand_yen"], record["printed"]) == shown[
            (record["policy_id"], record["node_key"])
        ]
    rows = list(
        csv.DictReader(
            io.StringIO(_run("search", "防犯", "--format", "csv", "--processed-dir", str(dataset)))
        )
    )
    assert [row["node_key"] for row in rows] == [r["node_key"] for r in records]


def test_search_table_marks_summed_amounts(dataset: Path) -> None:
    out = _run("search", "防犯対策の強化", "--processed-dir", str(dataset), env=WIDE)
    assert "4,568 (計)" in out and "予算額(千円)" in out and "戦略" in out


def test_highlight_marks_the_match() -> None:
    assert (
        highlight("地域の防災力強化(共助)", "防災") == "地域の[bold red]防災[/bold red]力強化(共助)"
    )


# --- one vocabulary ---------------------------------------------------------------------------


def test_search_history_and_changes_share_their_words(dataset: Path) -> None:
    history = _run("history", "minato", "--processed-dir", str(dataset), env=WIDE)
    search = _run("search", "地域", "--processed-dir", str(dataset), env=WIDE)
    for out in (history, search):
        assert "階層" in out and "名称" in out
        assert "経営課題" in out and "戦略" in out and "具体的取組" in out
        levels = {cells[0 if out is history else 2].strip() for cells in _table_rows(out)}
        assert levels <= {"経営課題", "戦略", "具体的取組", ""}
    assert "予算額(千円)" in search


# --- wards and policy ids -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["港区", "港", "minato", "MINATO", "27107", "２７１０７"])
def test_a_ward_is_named_any_way(dataset: Path, name: str) -> None:
    assert resolve_ward(name).slug == "minato"
    out = _run(
        "search", "防犯", "--ward", name, "--format", "json", "--processed-dir", str(dataset)
    )
    assert {record["ward"] for record in json.loads(out)} == {"港区"}
    history = _run("history", name, "--format", "json", "--processed-dir", str(dataset))
    assert {record["policy_id"][:7] for record in json.loads(history)} == {"minato-"}


def test_every_ward_resolves_by_each_name() -> None:
    for ward in WARDS:
        for name in (ward.name, ward.name[:-1], ward.slug, ward.code):
            assert resolve_ward(name) == ward


@pytest.mark.parametrize(
    "args",
    [("history", "大阪"), ("search", "防災", "--ward", "nowhere")],
)
def test_an_unknown_ward_is_one_line_listing_the_wards(
    dataset: Path, args: tuple[str, ...]
) -> None:
    result = runner.invoke(app, [*args, "--processed-dir", str(dataset)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: unknown ward")
    assert all(ward.name in result.output and ward.slug in result.output for ward in WARDS)


# --- empty answers --------------------------------------------------------------------------


def test_an_empty_search_says_so_and_what_to_try(dataset: Path) -> None:
    out = _run("search", "存在しない 語句", "--ward", "港区", "--processed-dir", str(dataset))
    assert out.startswith("0 件") and "Try fewer words" in out and "--ward" in out
    latin = _run("search", "disaster", "--processed-dir", str(dataset))
    assert "The data is Japanese" in latin
    result = runner.invoke(
        app, ["search", "disaster", "--format", "json", "--processed-dir", str(dataset)]
    )
    assert result.stdout == "[]\n" and "Japanese" in result.stderr


def test_an_empty_history_says_so(dataset: Path) -> None:
    assert "Wards with data: 港区, 鶴見区." in _run(
        "history", "北区", "--processed-dir", str(dataset)
    )
    out = _run("history", "港区", "存在しない", "--processed-dir", str(dataset))
    assert "No item of 港区" in out and "Try a shorter word" in out


# --- text outputs hold no missing-value markers ----------------------------------------------


def test_no_missing_value_markers_in_text_outputs(dataset: Path) -> None:
    outputs = [
        _run(*args, "--processed-dir", str(dataset), env=WIDE)
        for args in (
            ("history", "minato"),
            ("history", "tsurumi"),
            ("history", "tsurumi", "--format", "csv"),
            ("search", "地域"),
            ("search", "地域", "--format", "csv", "--limit", "500"),
        )
    ]
    for out in outputs:
        assert not MISSING.search(out), MISSING.search(out)


def test_amount_format() -> None:
    assert amount(32550, True) == "32,550"
    assert amount(32550, False) == "32,550 (計)"
    assert amount(None, None) == "—"


# --- the views load what they need only --------------------------------------------------------

_PROBE = """
import sys
sys.argv = ["osaka-unei", *sys.argv[1:]]
from osaka_unei.cli import run
try:
    run()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pandas", "pyarrow", "pydantic"})
print("LOADED", *heavy, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args", [("search", "防犯"), ("history", "minato"), ("--help",), ("history", "--help")]
)
def test_search_history_and_help_load_neither_pandas_nor_pydantic(
    dataset: Path, args: tuple[str, ...]
) -> None:
    extra = ("--processed-dir", str(dataset)) if "--help" not in args else ()
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args, *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.splitlines()[-1] == "LOADED", result.stderr


def test_a_dataset_without_the_nodes_columns_is_one_line(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / DATABASE_FILE).execute("CREATE TABLE nodes (node_id INTEGER)")
    result = runner.invoke(app, ["history", "minato", "--processed-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "older version" in result.output


# --- the summary ---------------------------------------------------------------------------


def test_fit_cuts_by_display_width_in_linear_time() -> None:
    assert fit("防災", 6) == "防災  "
    assert fit("地域防災の活動支援", 9) == "地域防災…"
    assert fit("地域防災の活動支援", 10) == "地域防災… "
    assert fit("abcdef", 4) == "abc…"
    start = time.perf_counter()
    line = fit("防" * 200_000, 64)  # quadratic before: 100,000 characters took minutes
    assert time.perf_counter() - start < 1.0
    assert line == "防" * 31 + "… "


def _console_text(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_bench_prints_the_command_line_against_its_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from cli_bench import COMMANDS, print_cli
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert set(COMMANDS) == {"search 防災", "history minato", "--help"}
    row = {
        "seconds_median": 0.3,
        "floor_seconds_median": 0.17,
        "cpu_seconds_median": 0.28,
        "floor_cpu_seconds_median": 0.16,
        "ratio_median": 1.76,
        "cpu_ratio_median": 1.75,
        "runs": 9,
    }
    met = print_cli({"search 防災": row, "--help": row | {"ratio_median": 2.5}}, 2.0)
    assert met == {"search 防災": True, "--help": False}
    out = capsys.readouterr().out
    assert "1.76x" in out and "MISSED" in out and "import typer, rich.table, sqlite3" in out
