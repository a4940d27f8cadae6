"""The answer commands on the committed dataset: search, history, changes, report; help
at 80 columns and `parse --format summary`.
Expected values are read off the seed pages (data/raw), not produced by the code."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from osaka_unei.cli import app
from osaka_unei.published import published_build_id

ROOT = Path(__file__).resolve().parents[1]
PROCESSED = ROOT / "data" / "processed"
SEEDS = ROOT / "tests" / "fixtures" / "seeds"
WIDE = {"COLUMNS": "250"}
MISSING = re.compile(r"\b(nan|NaN|None|NaT|null|undefined)\b|<NA>")
runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, [*args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_search_finds_a_two_character_word_with_its_budget() -> None:
    out = _run("search", "防災", "--ward", "minato", "--processed-dir", str(PROCESSED))
    # 港区 R4: issue 2's description (…防災…), strategy 2-1 防災対策の強化 and
    # 【2-1-1】 地域防災の活動支援 (2,025千円); the strategy's amount is its items' sum.
    assert "3 件" in out and "経営課題" in out and "具体的取組" in out
    assert "2,025" in out and "2,025 (計)" in out and "2-1-1" in out and "2-1" in out


def test_search_by_year_and_nothing_found() -> None:
    out = _run("search", "防災", "--year", "2017", "--processed-dir", str(PROCESSED))
    assert "西区" in out and "港区" not in out
    empty = _run("search", "存在しない語句", "--processed-dir", str(PROCESSED))
    assert empty.startswith("0 件") and "Try a shorter word" in empty


@pytest.mark.parametrize("ward", ["北区", "北", "kita", "27127"])
def test_search_takes_a_ward_as_history_does(ward: str) -> None:
    # Before: --ward 北 found nothing, silently, while `history 北` worked.
    out = _run("search", "防災", "--ward", ward, "--processed-dir", str(PROCESSED))
    assert "2 件" in out and "防災対策事業" in out


def test_history_prints_the_lineage_with_budgets() -> None:
    out = _run("history", "港区", "地域防災", "--processed-dir", str(PROCESSED), env=WIDE)
    assert "地域防災の活動支援" in out and "2,025" in out and "2022" in out
    assert "minato-initiative-2022-2-1-1" in out
    # the items it sits under, with their amounts: the sums of their items
    assert "安全・安心・快適なまちづくり" in out and "3,593 (計)" in out


def test_changes_says_when_there_is_one_version() -> None:
    out = _run("changes", "minato-2022", "--processed-dir", str(PROCESSED))
    assert "1 stored version" in out and "65,958" in out
    assert "nothing to compare" in out
    assert _run("changes", "港区-2022", "--processed-dir", str(PROCESSED)) == out
    assert _run(
        "changes", "minato-2022", "--format", "json", "--processed-dir", str(PROCESSED)
    ) == ("[]\n")
    csv_out = _run("changes", "minato-2022", "--format", "csv", "--processed-dir", str(PROCESSED))
    assert csv_out.startswith("policy_id,change_no,comparison,")


@pytest.mark.parametrize(
    "args",
    [
        ("changes", "nowhere-2020"),
        ("history", "nowhere"),
        ("search", "防災", "--processed-dir", "/nonexistent"),
        ("search", "防災", "--ward", "北のほう"),
        ("search", "  "),
        ("fetch", "--ward", "北のほう", "--sources", "/nonexistent.csv"),
    ],
)
def test_answer_commands_fail_in_one_line(args: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")


def test_an_unknown_policy_id_lists_the_stored_ones() -> None:
    result = runner.invoke(app, ["changes", "nowhere-2020", "--processed-dir", str(PROCESSED)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "minato-2022" in result.output and "kita-2019" in result.output
    result = runner.invoke(app, ["changes", "港区-2030", "--processed-dir", str(PROCESSED)])
    assert result.output.endswith("stored for this ward: minato-2022\n")


def test_answers_hold_no_missing_value_markers() -> None:
    for args in (
        ("search", "地域", "--limit", "500"),
        ("search", "地域", "--format", "csv", "--limit", "500"),
        ("history", "kita"),
        ("history", "minato", "--format", "csv"),
        ("changes", "minato-2022"),
    ):
        out = _run(*args, "--processed-dir", str(PROCESSED), env=WIDE)
        assert not MISSING.search(out), (args, MISSING.search(out))


# --- help at 80 columns ---------------------------------------------------------------------

COMMANDS = (
    "parse",
    "fetch",
    "discover",
    "build",
    "add-capture",
    "search",
    "history",
    "changes",
    "report",
)


def _help(*args: str) -> str:
    return _run(*args, "--help", env={"COLUMNS": "80"})


def test_the_command_list_fits_80_columns_uncut() -> None:
    out = _help()
    assert "…" not in out  # before: discover's and history's summaries were cut
    for command in COMMANDS:
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert _width(line) <= 80 and len(line.split()) > 3, line


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_paragraphs_are_wrapped_once(command: str) -> None:
    # Before: docstrings were hard-wrapped and wrapped again: "fiscal year,⏎ drafts".
    out = _help(command)
    text = re.split(r"Options|Arguments", out)[0]
    for paragraph in re.split(r"\n\s*\n", text)[2:]:  # after the usage and the summary
        lines = [line.rstrip() for line in paragraph.splitlines() if line.strip()]
        for line in lines[:-1]:  # every line but a paragraph's last is nearly full
            assert 60 <= _width(line) <= 80, (command, line)
    assert all(_width(line) <= 80 for line in out.splitlines() if "─" not in line)


# --- parse --format summary -----------------------------------------------------------------


def test_summary_prints_amounts_as_the_nodes_do() -> None:
    out = _run("parse", str(SEEDS / "003_89797b12dbd6aaef.txt"), "--format", "summary")
    assert "(1 items)" not in out and "(1 item)" in out  # before: (1 items)
    assert not re.search(r"\S  \S", out.split("\n", 1)[1].replace("…", ""))  # no double space
    assert not any(line != line.rstrip() for line in out.splitlines())
    assert re.search(r"戦略2-1 防災対策の強化 +2,025 千円 \(計\)$", out, re.M)
    assert re.search(r"具体的取組2-1-1 地域防災の活動支援 +2,025 千円$", out, re.M)
    assert re.search(r"経営課題1 区民主体のまちづくり +32,550 千円 \(計\)$", out, re.M)
    assert out.splitlines()[-1].startswith("計 65,958 千円; 経営課題 6, 戦略 10, 具体的取組 10")


def test_summary_of_a_page_without_amounts_says_none() -> None:
    # Before: `Total 0 千円` where the page prints no amount (the tables: null).
    out = _run("parse", str(SEEDS / "000_9271bec5154d5aa3.txt"), "--format", "summary")
    assert "Total 0" not in out and " 0 千円" not in out
    assert out.splitlines()[-1].startswith("計 —; 経営課題 3, ")
    assert not MISSING.search(out)


def test_report_command_writes_the_site(tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    out = _run("report", "--out-dir", str(out_dir), "--processed-dir", str(PROCESSED))
    assert "index.html" in out
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    assert 'data-thousand-yen="65958">65,958</td>' in index  # 港区 R4 total (千円)
    assert (out_dir / "wards" / "minato.html").is_file()
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out_dir.rglob("*") if p.is_file()}
    _run("report", "--out-dir", str(out_dir), "--processed-dir", str(PROCESSED))
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out_dir.rglob("*") if p.is_file()}
    assert before == after  # the same inputs: the site is not drawn again


def test_report_is_drawn_again_when_an_input_changes(tmp_path: Path) -> None:
    out_dir, registry = tmp_path / "report", tmp_path / "registry.csv"
    registry.write_bytes((ROOT / "data" / "registry.csv").read_bytes())
    args = ["report", "--out-dir", str(out_dir), "--processed-dir", str(PROCESSED)]
    _run(*args, "--registry", str(registry))
    first = published_build_id(out_dir, "report-inputs.json")
    assert "・" in (out_dir / "index.html").read_text("utf-8")  # known-only pages shown
    registry.write_text("url,ward,ward_slug,fiscal_year,page_id\n", encoding="utf-8")
    _run(*args, "--registry", str(registry))
    assert (
        published_build_id(out_dir, "report-inputs.json") != first
    )  # a new site: the coverage matrix changed


def test_a_bug_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from osaka_unei import cli

    def broken() -> None:
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert err == (
        "error: internal error (RuntimeError: something unexpected); "
        "rerun with --debug for the traceback\n"
    )
