"""The refresh policy (fetch/refresh.py): one test per rule, and a routine refresh of a
full store (24 wards × 14 fiscal years) against the hostile test server, counted there.
Issue 15 part 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from osaka_unei import store
from osaka_unei.cli import app
from osaka_unei.fetch import SITE_ORIGIN, FetchOptions, Page, run_fetch, save_registry
from osaka_unei.fetch.refresh import (
    History,
    check_reason,
    fiscal_year_of,
    histories,
    is_draft_page,
    pages_to_check,
)
from osaka_unei.models import RawRecord
from osaka_unei.wards import WARD_SLUGS

from .hostile_server import HostileServer, page, robots_allow_all, tiny_page

TODAY = dt.date(2026, 5, 20)  # fiscal year 2026 (令和8年度); 2025 is the previous one
DAY = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
OLD = Page(url=SITE_ORIGIN + "/kita/page/0000400000.html", fiscal_year=2017)


def record(outcome: str, at: dt.datetime = DAY, **changes: object) -> RawRecord:
    values: dict[str, object] = {
        "url": OLD.url,
        "fetched_at": at,
        "outcome": outcome,
        "path": "kita/400000-aaaa.html" if outcome in ("fetched", "unchanged") else None,
    }
    values.update(changes)
    return RawRecord(**values)  # type: ignore[arg-type]


def reason(*records: RawRecord, page: Page = OLD, draft: bool = False) -> str | None:
    return check_reason(page, histories(records).get(page.url), TODAY, 30, draft)


# --- the rules, one by one --------------------------------------------------------------


def test_fiscal_year_starts_in_april() -> None:
    assert fiscal_year_of(dt.date(2026, 3, 31)) == 2025
    assert fiscal_year_of(dt.date(2026, 4, 1)) == 2026
    assert fiscal_year_of(dt.date(2027, 1, 15)) == 2026


def test_a_settled_page_is_skipped() -> None:
    assert reason(record("fetched")) is None  # 2017, fetched 19 days ago
    assert reason(record("fetched"), record("unchanged", DAY + dt.timedelta(days=5))) is None


def test_current_and_previous_fiscal_year_are_checked() -> None:
    for year in (2025, 2026, 2027):  # previous, current, next (a draft published early)
        fresh = Page(url=OLD.url, fiscal_year=year)
        assert reason(record("fetched"), page=fresh) == "fiscal year still open"
    assert reason(record("fetched"), page=Page(url=OLD.url, fiscal_year=2024)) is None
    # In March 2026 fiscal year 2024 is still the previous one (its June note is due).
    march = dt.date(2026, 3, 1)
    page_2024 = Page(url=OLD.url, fiscal_year=2024)
    assert check_reason(page_2024, histories([record("fetched")])[OLD.url], march) is not None


def test_unknown_fiscal_year_is_checked() -> None:
    assert reason(record("fetched"), page=Page(url=OLD.url)) == "fiscal year unknown"


def test_draft_is_checked() -> None:
    assert reason(record("fetched"), draft=True) == "draft"


def test_never_fetched_is_checked() -> None:
    assert reason() == "never fetched"
    capture = record("capture", path="kita/400000-bbbb.txt", source_kind="capture")
    assert reason(capture) == "never fetched"  # a capture is a version, not a check


def test_last_fetch_that_did_not_end_well_is_checked() -> None:
    later = DAY + dt.timedelta(days=3)
    for outcome in ("failed", "incomplete", "disallowed"):
        assert reason(record("fetched"), record(outcome, later)) == "last fetch did not end well"
    assert reason(record("failed", DAY - dt.timedelta(days=3)), record("fetched")) is None


def test_last_check_older_than_max_age_is_checked() -> None:
    old = DAY - dt.timedelta(days=40)  # 59 days before TODAY
    assert reason(record("fetched", old)) == "last checked 59 days ago"
    assert check_reason(OLD, History(True, record("fetched", old), old), TODAY, 60) is None


def test_all_checks_everything() -> None:
    pages = [OLD, Page(url=OLD.url.replace("400000", "400001"), fiscal_year=2016)]
    records = [record("fetched"), record("fetched", url=pages[1].url)]
    assert pages_to_check(pages, records, TODAY, 30, check_all=True) == (pages, [])
    assert pages_to_check(pages, records, TODAY, 30, check_all=False) == ([], pages)


def test_draft_titles_are_recognised() -> None:
    assert is_draft_page(tiny_page("北区", "平成29年度", "1", draft=True))
    assert not is_draft_page(tiny_page("北区", "平成29年度", "1"))
    assert is_draft_page("令和元年度(平成31年度)住吉区運営方針（素案）\n本文".encode())
    assert not is_draft_page("令和4年度 港区運営方針\n(案)の意見募集は終わりました".encode())


# --- a routine refresh of a full store --------------------------------------------------

# The fetch records carry the real time, so the store's "today" is the real date here.
REAL_TODAY = dt.datetime.now(dt.UTC).date()
CURRENT = fiscal_year_of(REAL_TODAY)
YEARS = range(CURRENT - 13, CURRENT + 1)  # 14 fiscal years, the last the current one
DRAFT_SLUG, DRAFT_YEAR = "abeno", CURRENT - 12  # a page that stayed a draft
FLAKY_SLUG, FLAKY_YEAR = "kita", CURRENT - 8  # fails the first time


def full_registry() -> list[Page]:
    pages = []
    for number, (ward, slug) in enumerate(sorted(WARD_SLUGS.items())):
        for year in YEARS:
            page_id = str(300000 + (year - 2000) * 100 + number)
            url = f"{SITE_ORIGIN}/{slug}/page/{int(page_id):010d}.html"
            pages.append(Page(url, ward, slug, year, page_id))
    return pages


def path_of(slug: str, year: int) -> str:
    (row,) = [r for r in full_registry() if (r.ward_slug, r.fiscal_year) == (slug, year)]
    return row.url.removeprefix(SITE_ORIGIN)


@pytest.fixture
def full_site() -> Iterator[HostileServer]:
    routes = {"/robots.txt": robots_allow_all}
    for row in full_registry():
        draft = (row.ward_slug, row.fiscal_year) == (DRAFT_SLUG, DRAFT_YEAR)
        label = f"{row.fiscal_year}年度"
        body = tiny_page(row.ward or "", label, row.page_id or "", draft=draft)
        routes[row.url.removeprefix(SITE_ORIGIN)] = page(body)
    with HostileServer(routes) as server:
        yield server


def test_routine_refresh_of_a_full_store_asks_at_most_60(
    full_site: HostileServer, tmp_path: Path
) -> None:
    assert len(WARD_SLUGS) == 24
    registry = full_registry()
    assert len(registry) == 24 * 14
    raw_dir = tmp_path / "raw"
    flaky = path_of(FLAKY_SLUG, FLAKY_YEAR)
    served = full_site.state.routes.pop(flaky)  # a 404 the first time

    def run(day: dt.date, **changes: object) -> str:
        values: dict[str, object] = {
            "raw_dir": raw_dir, "base_url": full_site.url, "delay": 0.0, "retries": 0,
            "trust_env": False, "today": day, "max_consecutive_failures": 1000,
        }  # fmt: skip
        values.update(changes)
        return run_fetch(registry, FetchOptions(**values)).line()  # type: ignore[arg-type]

    first = run(REAL_TODAY)
    assert full_site.count() == 1 + 336  # robots.txt, then every page once
    assert first == (
        "fetched 335, unchanged 0, failed 1, incomplete 0, disallowed 0, settled 0 (not re-checked)"
    )
    full_site.state.routes[flaky] = served

    full_site.state.paths.clear()
    second = run(REAL_TODAY)
    # 24 wards × 2 open years (current, previous) + the draft + the page that failed +
    # robots.txt
    assert full_site.count() == 48 + 1 + 1 + 1 <= 60
    assert second == (
        "fetched 1, unchanged 49, failed 0, incomplete 0, disallowed 0, "
        "settled 286 (not re-checked)"
    )
    asked = set(full_site.state.paths)
    assert flaky in asked and path_of(DRAFT_SLUG, DRAFT_YEAR) in asked
    assert path_of("kita", CURRENT - 2) not in asked  # settled

    full_site.state.paths.clear()
    run(REAL_TODAY + dt.timedelta(days=45))  # every settled page is now over 30 days old
    assert full_site.count() == 1 + 336

    full_site.state.paths.clear()
    run(REAL_TODAY, check_all=True)  # --all
    assert full_site.count() == 1 + 336
    manifest = store.read_manifest(raw_dir)
    assert len(manifest) == 336 + 50 + 336 + 336


def test_cli_fetch_skips_settled_pages_and_all_rechecks(
    full_site: HostileServer, tmp_path: Path
) -> None:
    registry = tmp_path / "registry.csv"
    rows = [row for row in full_registry() if row.ward_slug == "kita"]
    save_registry(registry, rows)
    args = ["fetch", "--sources", str(registry), "--base-url", full_site.url,
            "--raw-dir", str(tmp_path / "raw"), "--delay", "0"]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0  # first run: all 14, whatever the date
    full_site.state.paths.clear()
    result = runner.invoke(app, args)
    assert result.exit_code == 0  # the current and previous year only, and robots.txt
    assert result.stdout.strip() == (
        "fetched 0, unchanged 2, failed 0, incomplete 0, disallowed 0, settled 12 (not re-checked)"
    )
    assert sorted(full_site.state.paths) == sorted(
        ["/robots.txt", path_of("kita", CURRENT), path_of("kita", CURRENT - 1)]
    )
    full_site.state.paths.clear()
    result = runner.invoke(app, [*args, "--all"])
    assert result.exit_code == 0 and full_site.count() == 1 + 14
    assert result.stdout.strip().endswith("settled 0 (not re-checked)")
