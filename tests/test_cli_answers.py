"""The answer commands on the committed dataset: search, history, changes, report.
Expected values are read off the seed pages (data/raw), not produced by the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from osaka_unei.cli import app
from osaka_unei.published import published_build_id

ROOT = Path(__file__).resolve().parents[1]
PROCESSED = ROOT / "data" / "processed"
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, [*args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_search_finds_a_two_character_word_with_its_budget() -> None:
    out = _run("search", "防災", "--ward", "minato", "--processed-dir", str(PROCESSED))
    # 港区 R4: issue 2's description (…防災…), strategy 2-1 防災対策の強化 and
    # 【2-1-1】 地域防災の活動支援 (2,025千円)
    assert "3 hits" in out and "経営課題" in out
    assert "2,025" in out and "2-1-1" in out and "2-1" in out


def test_search_by_year_and_nothing_found() -> None:
    out = _run("search", "防災", "--year", "2017", "--processed-dir", str(PROCESSED))
    assert "西区" in out and "港区" not in out
    assert "0 hits" in _run("search", "存在しない語句", "--processed-dir", str(PROCESSED))


def test_history_prints_the_lineage_with_budgets() -> None:
    out = _run("history", "港区", "地域防災", "--processed-dir", str(PROCESSED))
    assert "地域防災の活動支援" in out and "2,025" in out and "2022" in out
    assert "minato-initiative-2022-2-1-1" in out


def test_changes_says_when_there_is_one_version() -> None:
    out = _run("changes", "minato-2022", "--processed-dir", str(PROCESSED))
    assert "1 stored version" in out and "65,958" in out
    assert "nothing to compare" in out


@pytest.mark.parametrize(
    "args",
    [
        ("changes", "nowhere-2020"),
        ("history", "nowhere"),
        ("search", "防災", "--processed-dir", "/nonexistent"),
    ],
)
def test_answer_commands_fail_in_one_line(args: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")


def test_report_command_writes_the_site(tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    out = _run("report", "--out-dir", str(out_dir), "--processed-dir", str(PROCESSED))
    assert "index.html" in out
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    assert "65,958千円" in index  # 港区 R4 total
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
