"""Issue 19: one bad page never stops a build, nothing a file says leaks or runs.

Each test here failed on the code before the fix it names (item numbers of issue 19):
a page, a manifest line, a registry row or a command-line value that a hostile
contributor, a careless user or a cron job could give.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei import capture, store
from osaka_unei.cli import app
from osaka_unei.fetch import Page
from osaka_unei.fetch.client import Answer
from osaka_unei.fetch.registry import load_registry
from osaka_unei.fetch.run import FetchOptions, bad_row_record, record_for, row_problem
from osaka_unei.models import RawRecord
from osaka_unei.parse import PageError, parse_page
from osaka_unei.publish import run

T0 = dt.datetime(2024, 4, 1, 9, 0, tzinfo=dt.UTC)
MINATO = "https://www.city.osaka.lg.jp/minato/page/0000565017.html"
KITA = "https://www.city.osaka.lg.jp/kita/page/0000000001.html"


def _capture(body: str, title: str = "令和4年度港区運営方針") -> bytes:
    """A small text capture of a ward page: title, the issues heading, then `body`."""
    return f"{title}\n重点的に取り組む主な経営課題\n{body}\n".encode()


def _html(body: str, title: str = "令和4年度北区運営方針") -> bytes:
    return (
        '<html><head><meta charset="utf-8"></head><body>'
        f'<div id="sub_h1_box"><h1>{title}</h1></div><div id="mol_contents">'
        f"<h2>重点的に取り組む主な経営課題</h2>{body}</div></body></html>"
    ).encode()


def _store(raw: Path, data: bytes, **fields: object) -> str:
    """Store `data` as kita's page 1 with a manifest line (fields override the record)."""
    path = store.store_version(raw, "kita", "1", data, "html")
    values: dict[str, object] = {
        "url": KITA,
        "fetched_at": "2024-04-01T00:00:00Z",
        "outcome": "fetched",
        "path": path,
        "sha256": store.sha256_hex(data),
        "ward_slug": "kita",
    }
    store.append_manifest(raw, [RawRecord.model_validate(values | fields)])
    return path


def _build(tmp_path: Path) -> dict[str, pd.DataFrame]:
    return run.run_build(tmp_path / "raw", tmp_path / "out", tmp_path / "cache").tables


# --- 2. an amount too large for int64 --------------------------------------------------


def test_amount_beyond_the_bound_is_dropped_with_a_warning_and_builds(tmp_path: Path) -> None:
    # Before: add-capture stored it and every later build failed (OverflowError, rc 70).
    data = _capture(
        "【経営課題1】 地域の課題\n【戦略1-1 戦略】\n"
        "【具体的取組1-1-1 取組】(4年度予算額 999999999999999999千円)\n"
        "【具体的取組1-1-2 次の取組】(4年度予算額 1,000千円)"
    )
    _, added = capture.add_capture(tmp_path / "raw", data, MINATO, T0)
    assert added
    tables = _build(tmp_path)
    (row,) = tables["parse_report"].itertuples()
    assert row.status == "warning"
    assert "amount above 1,000,000,000 千円 (1兆円), kept as null" in row.messages
    initiatives = tables["initiatives"]
    assert initiatives["budget_thousand_yen"].tolist()[1] == 1000
    assert pd.isna(initiatives["budget_thousand_yen"].tolist()[0])
    budgets = tables["budgets"]
    assert "999999999999999999千円" in budgets["raw"].iloc[0]  # the raw text is kept


def test_amount_bound_is_a_plausible_ward_budget() -> None:
    from osaka_unei.parse.budgets import MAX_AMOUNT_THOUSAND_YEN

    # 1兆円: about half the city's whole general account, far above any ward amount, and
    # 10,000 of them still sum far inside int64.
    assert MAX_AMOUNT_THOUSAND_YEN == 10**9
    policy = parse_page(
        _html("<p>【経営課題1】 x(1,000,000,000千円)</p><p>【経営課題2】 y(1兆1億円)</p>")
    )
    assert [issue.budget_thousand_yen for issue in policy.issues] == [10**9, None]


def test_huge_page_number_or_date_is_kept_as_a_note() -> None:
    # Before: int() of a 5,000-digit page number raised ValueError (a parser failure).
    data = _capture("【経営課題1】 x").replace(
        b"\n", ("\nページ番号:" + "9" * 5_000 + "\n٢٠٢٢年٤月١日\n").encode(), 1
    )
    policy = parse_page(data, url=MINATO)
    assert (policy.page_id, policy.published) == ("565017", None)


# --- 3. fiscal years outside the site's range --------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "令和99999年度北区運営方針",
        "平成0年度北区運営方針",
        "平成24年度北区運営方針",
        "9999年度北区運営方針",
    ],
)
def test_title_year_outside_the_range_is_refused(title: str) -> None:
    # Before: 令和99999年度 was read as 9999 (its last four digits), 平成0年度 as 1988.
    with pytest.raises(PageError, match=r"outside the site's range \(2013–"):
        parse_page(_html("<p>【経営課題1】 x</p>", title))


def test_title_years_at_the_ends_of_the_range_are_read() -> None:
    from osaka_unei.calendar import last_fiscal_year

    last = last_fiscal_year()
    for title, year in (
        ("平成25年度北区運営方針", 2013),
        (f"令和{last - 2018}年度北区運営方針", last),
    ):
        assert parse_page(_html("<p>【経営課題1】 x</p>", title)).fiscal_year == year
    with pytest.raises(PageError):
        parse_page(_html("<p>【経営課題1】 x</p>", f"令和{last - 2018 + 1}年度北区運営方針"))


def test_last_fiscal_year_is_the_next_one() -> None:
    from osaka_unei.calendar import FIRST_FISCAL_YEAR, fiscal_year_problem, last_fiscal_year

    assert last_fiscal_year(dt.date(2027, 3, 31)) == 2027
    assert last_fiscal_year(dt.date(2027, 4, 1)) == 2028
    assert fiscal_year_problem(FIRST_FISCAL_YEAR - 1) is not None
    assert fiscal_year_problem(2018200) is not None


def test_registry_year_outside_the_range_is_a_bad_row(tmp_path: Path) -> None:
    # Before: a typo (20182, 2018200) went into the manifest and the report's columns.
    registry = tmp_path / "registry.csv"
    registry.write_text(
        f"url,ward,ward_slug,fiscal_year,page_id\n{KITA},北区,kita,2018200,1\n", encoding="utf-8"
    )
    (page,) = load_registry(registry)
    problem = row_problem(page)
    assert problem is not None and "fiscal year 2018200 is outside the site's range" in problem
    record = bad_row_record(page, problem, T0)
    assert (record.outcome, record.fiscal_year) == ("failed", None)


def test_manifest_year_outside_the_range_is_an_error_row(tmp_path: Path) -> None:
    _store(tmp_path / "raw", b"not a page at all", fiscal_year=2018200)
    report = _build(tmp_path)["parse_report"]
    assert 2018200 not in report["fiscal_year"].dropna().tolist()
    assert report["messages"].str.contains("fiscal_year: fiscal year 2018200 is outside").any()


# --- 5. addresses read from the store ------------------------------------------------------

BAD_URLS = [
    "javascript:alert(document.domain)//https://www.city.osaka.lg.jp/kita/page/0000000001.html",
    'https://www.city.osaka.lg.jp/kita/page/1.html"><script>alert(1)</script>',
    "https://evil.example/kita/page/0000000001.html",
    "https://user:secret@www.city.osaka.lg.jp/kita/page/0000000001.html",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_manifest_url_off_the_city_is_an_error_row_never_data(tmp_path: Path, url: str) -> None:
    # Before: the manifest's url became policies.url (a live link in the report).
    _store(tmp_path / "raw", _html("<p>【経営課題1】 x</p>"), url=url)
    tables = _build(tmp_path)
    assert tables["policies"].empty
    assert (tables["parse_report"]["status"] == "error").all()
    for name, frame in tables.items():
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                text = frame[column].dropna().astype(str)
                assert not text.str.contains("javascript:|<script|evil.example|secret").any(), (
                    name,
                    column,
                )


def test_manifest_final_url_with_credentials_is_an_error_row(tmp_path: Path) -> None:
    _store(tmp_path / "raw", _html("<p>【経営課題1】 x</p>"), final_url="http://u:pw@mirror/x")
    report = _build(tmp_path)["parse_report"]
    assert report["messages"].str.contains("final_url: not an http").any()
    assert not report["messages"].str.contains("pw@").any()


# --- 7. credentials in --base-url ------------------------------------------------------------


def test_base_url_with_credentials_is_refused_in_one_line(tmp_path: Path) -> None:
    # Before: the password went into every final_url of the manifest.
    sources = tmp_path / "s.csv"
    sources.write_text(f"url\n{KITA}\n", encoding="utf-8")
    raw = tmp_path / "raw"
    for command in (
        ["fetch", "--sources", str(sources), "--raw-dir", str(raw)],
        ["discover", "--registry", str(sources), "--raw-dir", str(raw), "--dry-run"],
        ["parse", KITA],
    ):
        result = CliRunner().invoke(
            app,
            [*command, "--base-url", "http://user:secret@127.0.0.1:9/", "--delay", "0"]
            if command[0] != "parse"
            else [*command, "--base-url", "http://user:secret@127.0.0.1:9/"],
        )
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1
        assert "user name or password" in result.stderr and "secret" not in result.stderr
        assert not raw.exists()
    with pytest.raises(ValueError, match="user name or password"):
        FetchOptions(base_url="https://user:secret@mirror.example/")


def test_final_url_is_written_without_credentials() -> None:
    page = Page(url=KITA)
    answer = Answer(KITA, "http://user:secret@127.0.0.1:9/kita/page/0000000001.html")
    record = record_for(page, answer, T0, "failed")
    assert record.final_url == "http://127.0.0.1:9/kita/page/0000000001.html"
    assert "secret" not in json.dumps(record.model_dump(mode="json"))


# --- 8. digits of other scripts, negative amounts, long codes ------------------------------


@pytest.mark.parametrize(
    ("amount", "warning"),
    [
        ("(٣٠٠千円)", "digits other than 0–9, kept as null: (٣٠٠千円)"),  # Arabic-Indic
        ("(३००千円)", "digits other than 0–9, kept as null: (३००千円)"),  # Devanagari
        ("(▲5,000千円)", "negative amount (a budget is never negative), kept as null"),
        ("(△5,000千円)", "negative amount (a budget is never negative), kept as null"),
        ("(−5,000千円)", "negative amount (a budget is never negative), kept as null"),
        ("(4年度予算額 -5,000千円)", "negative amount (a budget is never negative), kept as null"),
        ("(4年度予算額 ▲5千万円)", "negative amount (a budget is never negative), kept as null"),
    ],
)
def test_amount_not_read_is_kept_as_null_with_a_warning(amount: str, warning: str) -> None:
    # Before: ٣٠٠ was read as 300; ▲/−5,000 lost silently (as text, or as the dash of
    # "no amount" after a label).
    policy = parse_page(_html(f"<p>【経営課題1】 x</p><p>【戦略1-1 y】{amount}</p>"))
    (strategy,) = policy.issues[0].strategies
    assert strategy.budget_thousand_yen is None
    (budget,) = strategy.budgets
    assert (budget.amount_thousand_yen, budget.raw) == (None, amount)
    assert strategy.description is None  # not left in the text either
    assert any(warning in w for w in policy.warnings), policy.warnings


def test_no_amount_dash_is_still_null_without_a_warning() -> None:
    policy = parse_page(_html("<p>【経営課題1】 x</p><p>【戦略1-1 y】(4年度予算額 - )</p>"))
    assert policy.issues[0].strategies[0].budgets[0].amount_thousand_yen is None
    assert policy.warnings == []


@pytest.mark.parametrize(
    "heading", ["【具体的取組1-1-100 取組】", "具体的取組1-1-100 取組", "【1-1-100 取組】"]
)
def test_initiative_numbers_of_100_or_more_are_not_cut(heading: str) -> None:
    # Before: 1-1-100 → code 1-1-10, title "0 取組".
    policy = parse_page(_html(f"<p>【経営課題1】 x</p><p>【戦略1-1 y】</p><p>{heading}</p>"))
    (initiative,) = policy.issues[0].strategies[0].initiatives
    assert (initiative.code, initiative.title) == ("1-1-100", "取組")


def test_issue_number_is_never_cut() -> None:
    policy = parse_page(_html("<p>経営課題100 地域</p><p>経営課題1000 地域</p>"))
    assert [(i.code, i.title) for i in policy.issues] == [("100", "地域")]
    assert "heading form not recognised, kept as text: 経営課題1000 地域" in policy.warnings


# --- 10. costs out of proportion: summary, search, add-capture ---------------------------------


def test_summary_of_long_titles_is_linear() -> None:
    # Before: 20,000-character titles took 30 s each (the width measured again per char).
    from osaka_unei.views.summary import render_summary

    title = "地域" * 50_000
    policy = parse_page(_html(f"<p>【経営課題1】 {title}</p><p>【戦略1-1 {title}】</p>"))
    started = time.perf_counter()
    summary = render_summary(policy)
    assert time.perf_counter() - started < 1.0
    assert summary.splitlines()[2].startswith("経営課題1 地域地域")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("地域 " * 5_800, "error: the query is 17,400 characters long; at most 200 are searched"),
        (
            " ".join("防災" for _ in range(11)),
            "error: the query has 11 words; at most 10 are searched",
        ),
    ],
)
def test_search_query_is_bounded(tmp_path: Path, query: str, message: str) -> None:
    # Before: a 40 KB query of 5,800 words took 32-88 s.
    result = CliRunner().invoke(app, ["search", query, "--processed-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == message + "\n"


def test_add_capture_reads_at_most_the_fetchers_cap(tmp_path: Path) -> None:
    # Before: `add-capture /dev/zero` read until memory ran out (2.2 GB, then rc 70).
    from osaka_unei.capture import read_capture

    with pytest.raises(ValueError, match=r"^not stored: /dev/zero is larger than 10,485,760"):
        read_capture(Path("/dev/zero"))
    big = tmp_path / "big.txt"
    big.write_bytes(_capture("【経営課題1】 x\n") + b" " * 10 * 1024 * 1024)
    raw = tmp_path / "raw"
    result = CliRunner().invoke(
        app, ["add-capture", str(big), "--url", MINATO, "--raw-dir", str(raw)]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "larger than 10,485,760 bytes" in result.stderr
    assert not raw.exists()


# --- 6. CSV formula injection ------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_neutralises_formulas_parquet_and_sqlite_keep_the_text(tmp_path: Path) -> None:
    # Before: a title starting with = + - @ landed as-is at the start of a CSV cell.
    from osaka_unei.dataset.files import csv_bytes
    from osaka_unei.dataset.tables import PARSE_REPORT as spec

    frame = pd.DataFrame(
        {
            "path": [f"kita/{n}.html" for n in range(len(FORMULAS) + 2)],
            "url": [None] * (len(FORMULAS) + 2),
            "ward_slug": ["kita"] * (len(FORMULAS) + 2),
            "fiscal_year": pd.array([-5, 2022, *[None] * len(FORMULAS)], dtype="Int64"),
            "status": ["error"] * (len(FORMULAS) + 2),
            "messages": ["a = b", None, *FORMULAS],
        }
    )
    text = csv_bytes(spec, frame).decode("utf-8-sig")
    read = list(csv.DictReader(io.StringIO(text, newline="")))
    expected = ["a = b", "", *("'" + f.replace("\r", "\n") for f in FORMULAS)]
    assert [row["messages"] for row in read] == expected
    assert [row["fiscal_year"] for row in read][:2] == ["-5", "2022"]  # a number stays one
    assert csv_bytes(spec, frame) == csv_bytes(spec, frame)  # deterministic


def test_build_keeps_exact_titles_in_parquet_and_sqlite(tmp_path: Path) -> None:
    import sqlite3

    titles = ["=1+2", "-3", "+4", "@5"]
    body = "【経営課題1】 課題\n【戦略1-1 戦略】\n" + "".join(
        f"【具体的取組1-1-{n} {title}】\n" for n, title in enumerate(titles, start=1)
    )
    capture.add_capture(tmp_path / "raw", _capture(body), MINATO, T0)
    run.run_build(tmp_path / "raw", tmp_path / "out", tmp_path / "cache")
    out = store.resolve_published(tmp_path / "out")
    parquet = pd.read_parquet(out / "initiatives.parquet")["title"].tolist()
    assert parquet == titles
    csv = pd.read_csv(out / "initiatives.csv", encoding="utf-8-sig")["title"].tolist()
    assert csv == ["'" + title for title in titles]
    with sqlite3.connect(out / "osaka_unei.sqlite") as db:
        rows = [row[0] for row in db.execute("SELECT title FROM initiatives ORDER BY position")]
    assert rows == titles


# --- 11. curated files: long fields, many bad rows ------------------------------------------

LINEAGE_HEADER = "action,ward_slug,level,from_policy_id,from_node,to_policy_id,to_node,reason\n"
THEME_HEADER = "policy_id,level,issue_position,strategy_position,position,theme,reason\n"
SEED = Path(__file__).parent / "fixtures" / "seeds" / "003_89797b12dbd6aaef.txt"


def _curated_build(tmp_path: Path, lineage: str, themes: str) -> dict[str, str]:
    """Build the minato 2022 seed with these curated files: {file name: error message}."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "lineage-overrides.csv").write_text(LINEAGE_HEADER + lineage, encoding="utf-8")
    (data / "theme-overrides.csv").write_text(THEME_HEADER + themes, encoding="utf-8")
    capture.add_capture(tmp_path / "raw", SEED.read_bytes(), MINATO, T0)
    result = run.run_build(tmp_path / "raw", tmp_path / "out", tmp_path / "cache", data_dir=data)
    assert len(result.tables["policies"]) == 1
    report = result.tables["parse_report"]
    errors = report[report["status"] == "error"]
    return {
        Path(path).name: message
        for path, message in zip(errors["path"], errors["messages"], strict=True)
    }


def test_curated_field_of_200_kb_is_an_error_row(tmp_path: Path) -> None:
    # Before: csv's field limit raised an internal error (rc 70) and stopped every build.
    long = "x" * 200_000
    errors = _curated_build(
        tmp_path,
        f"join,minato,strategy,minato-2021,p1.1,minato-2022,p1.1,{long}\n",
        f"minato-2022,issue,1,,,safety,{long}\n",
    )
    assert errors["lineage-overrides.csv"] == (
        "lineage-overrides.csv line 2: 200,055 characters, at most 2,000"
    )
    assert errors["theme-overrides.csv"] == (
        "not applied: theme-overrides.csv line 2: 200,029 characters, at most 2,000"
    )


def test_many_bad_curated_rows_are_one_bounded_error_row_per_file(tmp_path: Path) -> None:
    # Before: two bad lineage rows were two parse_report rows of one path (the build failed
    # on the key); 300,000 bad theme rows made one 45-69 MB message.
    errors = _curated_build(
        tmp_path,
        "jion,minato,strategy,minato-2021,p1.1,minato-2022,p1.1,typo\n" * 3_000,
        "minato-2022,issue,1,,,nosuchtheme,typo\n" * 3_000,
    )
    for name in ("lineage-overrides.csv", "theme-overrides.csv"):
        assert errors[name].endswith("… and 2,980 more"), errors[name][-100:]
        assert len(errors[name]) < 20 * 300 + 100
    assert "line 2: unknown action 'jion'" in errors["lineage-overrides.csv"]


def test_parse_and_build_read_no_file_past_the_cap(tmp_path: Path) -> None:
    # Before: `parse` and `build` read any file whole, whatever its size.
    big = _html("<p>【経営課題1】 x</p>" + "<p>地域</p>" * 900_000)
    assert len(big) > 10 * 1024 * 1024
    page = tmp_path / "big.html"
    page.write_bytes(big)
    result = CliRunner().invoke(app, ["parse", str(page)])
    assert result.exit_code == 2
    assert result.stderr == "error: page refused: larger than 10,485,760 bytes\n"
    path = _store(tmp_path / "raw", big)
    report = _build(tmp_path)["parse_report"]
    assert report.set_index("path")["messages"][path] == (
        "page refused: larger than 10,485,760 bytes"
    )
