"""The report as a person sees it: headless Chromium opens the pages from disk (file://).

Needs Debian's Chromium (`apt-get install chromium`) and the playwright Python package;
never `playwright install` (no browser download). Without them the tests skip, except
under CI (the CI variable set), where a missing browser is a failure. Screenshots go to
tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from osaka_unei.report import render_site
from tests.report_data import real_coverage, real_tables, with_copy

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 15_000  # every wait is bounded
BUILT = dt.datetime(2026, 11, 21, 1, 2, 3, tzinfo=dt.UTC)
# wards of the real dataset, in city order
REAL_WARDS = [
    ("kita", "北区"),
    ("nishi", "西区"),
    ("minato", "港区"),
    ("tsurumi", "鶴見区"),
    ("higashisumiyoshi", "東住吉区"),
]


def _unavailable(reason: str) -> None:
    message = f"{reason}: install Debian's Chromium with `apt-get install chromium` (never `playwright install`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is missing")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} not found")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Watch:
    """A page whose every request and console error is recorded; only file:// may load."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _allowed(self, url: str) -> bool:
        return url.startswith(("file://", "data:"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if self._allowed(url):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _request(self, request: Any) -> None:
        if not self._allowed(request.url):
            self.outside.append(request.url)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def open(self, path: Path) -> Any:
        response = self.page.goto(path.resolve().as_uri(), wait_until="load")
        assert response is None or response.ok, path
        return self.page

    def close(self) -> None:
        self.context.close()

    def check(self) -> None:
        assert self.outside == [], f"requests left the machine: {self.outside}"
        assert self.errors == [], self.errors


def _svg_boxes(page: Any) -> list[dict[str, float]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('svg')].map(s => {"
        " const r = s.getBoundingClientRect(); return {w: r.width, h: r.height}; })"
    )


def _assert_charts_visible(page: Any, expected: int) -> None:
    boxes = _svg_boxes(page)
    assert len(boxes) == expected, boxes
    for box in boxes:
        assert box["w"] > 50 and box["h"] > 30, boxes


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True, timeout=TIMEOUT_MS)
    assert path.stat().st_size > 10_000
    return path


def test_real_site_in_chromium(browser: Any, tmp_path: Path) -> None:
    tables = real_tables(derived=True)
    render_site(tables, real_coverage(tables), BUILT, tmp_path)
    watch = Watch(browser)
    try:
        page = watch.open(tmp_path / "index.html")
        assert page.title() == "収録状況と予算 — 大阪市 区運営方針データセット"
        assert "2026-11-21 10:02 JST" in page.locator("header.site .built").inner_text()
        # the coverage matrix: 24 rows; the dataset's 5 cells parsed ok
        assert page.locator("table.coverage tbody tr").count() == 24
        assert page.locator('table.coverage td[data-status="ok"]').count() == 5
        kita = page.locator('tr[data-ward="kita"] td[data-year="2019"]')
        assert kita.get_attribute("data-status") == "ok"
        # the cells are coloured (CSS loaded from disk)
        colour = kita.evaluate("td => getComputedStyle(td).backgroundColor")
        assert colour == "rgb(46, 125, 79)"
        # the real themes table: its section lists themes with amounts
        assert page.locator("#themes table tbody tr").count() >= 5
        # named from the codebook; 港区 33,032 + 鶴見区 17,815 千円 in 2022 (README pivot)
        community = page.locator(
            "#themes tr", has_text="地域活動・協働・地域コミュニティ (community)"
        )
        assert "50,847千円" in community.inner_text()
        _assert_charts_visible(page, 2)  # budget heat map and themes
        _shot(page, "report-index.png")

        for slug, name in REAL_WARDS:
            link = page.locator(f'tr[data-ward="{slug}"] th a')
            assert link.inner_text() == name
            link.click()
            page.wait_for_load_state("load")
            assert page.url.endswith(f"/wards/{slug}.html")
            assert page.locator("h1").inner_text().startswith(name)
            assert page.locator("table.tree tbody tr").count() > 5
            charts = len(_svg_boxes(page))
            _assert_charts_visible(page, charts)
            if slug == "minato":
                row = page.locator("table.tree tr.initiative").first
                assert row.locator("td.num").inner_text() == "32,550千円"
                align = row.locator("td.num").evaluate("td => getComputedStyle(td).textAlign")
                assert align == "right"
                _shot(page, "report-ward-minato.png")
            page.go_back(wait_until="load")

        page.locator('table.coverage thead a[href="years/2022.html"]').click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().startswith("令和4年度(2022年度)")
        assert page.locator("#wards tbody tr").count() == 2
        _assert_charts_visible(page, 1)
        _shot(page, "report-year-2022.png")
        watch.check()
    finally:
        watch.close()


def test_themes_and_lineage_charts_in_chromium(browser: Any, tmp_path: Path) -> None:
    tables = real_tables()
    more = with_copy(with_copy(tables, "minato-2022", 2023, 2), "minato-2022", 2024, 3)
    initiatives = more["initiatives"]
    minato = initiatives[initiatives["policy_id"].str.startswith("minato-")]
    more["lineage"] = minato[
        ["policy_id", "issue_position", "strategy_position", "position", "fiscal_year"]
    ].assign(lineage_id="minato-" + minato["initiative_code"], level="initiative")
    more["themes"] = pd.DataFrame(
        {
            "policy_id": ["minato-2022", "minato-2023", "tsurumi-2022"],
            "level": ["issue", "issue", "issue"],
            "issue_position": [2, 2, 4],
            "theme": ["防災・防犯", "防災・防犯", "防災・防犯"],
        }
    )
    render_site(more, real_coverage(tables), BUILT, tmp_path)
    watch = Watch(browser)
    try:
        page = watch.open(tmp_path / "index.html")
        assert page.locator("#themes table tbody tr").count() == 1
        _assert_charts_visible(page, 2)  # budget heat map and themes
        _shot(page, "report-index-themes.png")
        page = watch.open(tmp_path / "wards" / "minato.html")
        # 10 initiatives followed over 3 years, plus the ward's budget-per-year bars
        assert page.locator("#lineages .lineage svg").count() == 10
        _assert_charts_visible(page, 11)
        _shot(page, "report-ward-minato-lineage.png")
        watch.check()
    finally:
        watch.close()
