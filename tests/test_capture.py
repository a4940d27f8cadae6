"""add-capture stores only what build will read as `parse` reads it: a text capture or a
page saved from a browser, in any encoding the parser reads, and only the ward 運営方針 page
that --url names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei import capture, store
from osaka_unei.cli import app
from osaka_unei.parse import parse_page
from osaka_unei.publish import run

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
T0 = dt.datetime(2024, 4, 1, 9, 0, tzinfo=dt.UTC)
MINATO = "https://www.city.osaka.lg.jp/minato/page/0000565017.html"
YODOGAWA = "https://www.city.osaka.lg.jp/yodogawa/page/0000428815.html"


def _build_row(tmp_path: Path) -> tuple[str, str | None]:
    result = run.run_build(tmp_path / "raw", tmp_path / "out", tmp_path / "cache")
    report = result.tables["parse_report"]
    assert len(report) == 1
    row = report.iloc[0]
    return row["status"], None if pd.isna(row["messages"]) else row["messages"]


@pytest.mark.parametrize(
    ("source", "url", "ext", "policy_id"),
    [
        # Saved from a browser: starts with an <?xml …?> prolog, UTF-8.
        (PAGES / "003_89797b12dbd6aaef.html", MINATO, "html", "minato-2022"),
        # Saved from a browser in Shift_JIS (XML declaration, http-equiv and meta charset).
        (PAGES / "shift_jis_page.html", YODOGAWA, "html", "yodogawa-2018"),
        # A text capture, as the seeds are.
        (FIXTURES / "seeds" / "003_89797b12dbd6aaef.txt", MINATO, "txt", "minato-2022"),
    ],
)
def test_capture_builds_as_parse_reads_it(
    tmp_path: Path, source: Path, url: str, ext: str, policy_id: str
) -> None:
    raw = tmp_path / "raw"
    record, added = capture.add_capture(raw, source.read_bytes(), url, T0)
    assert added and record.path is not None and record.path.endswith(f".{ext}")
    assert (raw / record.path).read_bytes() == source.read_bytes()
    assert _build_row(tmp_path) == ("ok", None)
    policies = run.run_build(raw, tmp_path / "out", tmp_path / "cache").tables["policies"]
    assert policies["policy_id"].tolist() == [policy_id]
    # What `osaka-unei parse FILE` prints for the file the user gave:
    direct = parse_page(source, url=url)
    assert policies["n_initiatives"].tolist() == [
        sum(len(s.initiatives) for i in direct.issues for s in i.strategies)
    ]
    assert policies["title"].tolist() == [direct.title]


@pytest.mark.parametrize(
    ("source", "url", "reason"),
    [
        (PAGES / "unrelated_page.html", MINATO, r"^not stored: not a 運営方針 page"),
        (PAGES / "bureau_page.html", MINATO, r"^not stored: not a ward 運営方針 page"),
        (
            PAGES / "003_89797b12dbd6aaef.html",
            "https://www.city.osaka.lg.jp/kita/page/0000565017.html",
            r"^not stored: the page is 港区's \(minato\) but --url names kita$",
        ),
        (
            PAGES / "003_89797b12dbd6aaef.html",
            "https://www.city.osaka.lg.jp/minato/page/0000000001.html",
            r"^not stored: the page's number is 565017 but --url names 1$",
        ),
    ],
)
def test_capture_that_is_not_the_page_is_refused(
    tmp_path: Path, source: Path, url: str, reason: str
) -> None:
    raw = tmp_path / "raw"
    with pytest.raises(ValueError, match=reason):
        capture.add_capture(raw, source.read_bytes(), url, T0)
    assert store.read_manifest(raw) == []
    assert not raw.exists() or not any(p.is_file() for p in raw.rglob("*"))


def test_cli_refuses_in_one_line_and_stores_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    args = ["add-capture", str(PAGES / "unrelated_page.html"), "--url", MINATO]
    result = CliRunner().invoke(app, [*args, "--raw-dir", str(raw)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: not stored: not a 運営方針 page")
    assert not raw.exists()


def test_cli_stores_a_shift_jis_page(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    args = ["add-capture", str(PAGES / "shift_jis_page.html"), "--url", YODOGAWA]
    result = CliRunner().invoke(app, [*args, "--raw-dir", str(raw)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"stored: {raw}/yodogawa/428815-")
    assert result.output.rstrip().endswith(f".html ({YODOGAWA})")
    (record,) = store.read_manifest(raw)
    assert (record.charset, record.content_type) == (None, "text/html")
