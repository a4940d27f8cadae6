"""The report as a person sees it: headless Chromium opens the pages from disk (file://).

Needs Debian's Chromium (`apt-get install chromium`) and the playwright Python package;
never `playwright install` (no browser download). Without them the tests skip, except
under CI (the CI variable set), where a missing browser is a failure. Screenshots go to
tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from osaka_unei.report import render_site
from tests.report_data import real_coverage, real_tables

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

    def __init__(self, browser: Any, width: int = 1200) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
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


def _assert_charts_visible(page: Any, expected: int | None = None) -> None:
    boxes = _svg_boxes(page)
    if expected is not None:
        assert len(boxes) == expected, boxes
    for box in boxes:
        assert box["w"] > 50 and box["h"] > 30, boxes


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True, timeout=TIMEOUT_MS)
    assert path.stat().st_size > 10_000
    return path


# --- layout at both widths ----------------------------------------------------------------

WIDTHS = (1280, 390)
PAGES = {
    "index": "index.html",
    "ward": "wards/minato.html",
    "year": "years/2022.html",
    "item": "items/minato-initiative-1-2-2.html",
    "data": "data.html",
    "dictionary": "dictionary.html",
}
LAYOUT_JS = """() => {
  const doc = document.documentElement;
  const out = {pageOverflow: doc.scrollWidth - doc.clientWidth, tables: [], sticky: [], text: []};
  for (const table of document.querySelectorAll('main table')) {
    const box = table.parentElement;
    const scrolls = box.classList.contains('scroll') && getComputedStyle(box).overflowX === 'auto';
    out.tables.push({wide: table.getBoundingClientRect().width > box.clientWidth + 1, scrolls});
    if (scrolls && box.scrollWidth > box.clientWidth + 1) {
      box.scrollLeft = box.scrollWidth;  // scrolled right to the end: the first column stays
      const first = table.querySelector('tbody tr th, tbody tr td');
      out.sticky.push({
        position: getComputedStyle(first).position,
        offset: Math.abs(first.getBoundingClientRect().left - box.getBoundingClientRect().left),
      });
      box.scrollLeft = 0;
    }
  }
  for (const svg of document.querySelectorAll('svg')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      out.text.push(parseFloat(getComputedStyle(t).fontSize) * scale);
    }
  }
  return out;
}"""


def _links(page: Any) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed data with 港区 followed over three years (item pages of several
    years), the downloads beside it as data/processed is beside data/report."""
    from osaka_unei.dataset.datapackage import DATAPACKAGE_NAME
    from osaka_unei.publish.catalog import PUBLISHED_TABLES
    from osaka_unei.publish.report import downloads
    from osaka_unei.published import published_build_id
    from osaka_unei.report import Download
    from tests.report_data import PROCESSED
    from tests.test_report import _minato_years

    base = tmp_path_factory.mktemp("layout")
    (base / "processed").symlink_to(PROCESSED.resolve())
    tables = _minato_years(real_tables(derived=True))
    render_site(
        tables,
        real_coverage(tables),
        BUILT,
        base / "report",
        downloads=[Download(n, s) for n, s in downloads(PROCESSED)],
        build_id=published_build_id(PROCESSED, DATAPACKAGE_NAME),
        specs=PUBLISHED_TABLES,
    )
    return base / "report"


@pytest.mark.parametrize("width", WIDTHS)
def test_readable_at_both_widths(browser: Any, wide_site: Path, width: int) -> None:
    watch = Watch(browser, width=width)
    try:
        for name, path in PAGES.items():
            page = watch.open(wide_site / path)
            layout = page.evaluate(LAYOUT_JS)
            assert layout["pageOverflow"] <= 0, (name, width, layout["pageOverflow"])
            for table in layout["tables"]:
                assert not table["wide"] or table["scrolls"], (name, width, layout["tables"])
            for cell in layout["sticky"]:
                assert cell["position"] == "sticky" and cell["offset"] < 2, (name, width, cell)
            assert all(size >= 10 for size in layout["text"]), (name, width, min(layout["text"]))
            _assert_charts_visible(page)
            for url in _links(page):
                if url.startswith("file://"):
                    target = Path(unquote(urlsplit(url).path))
                    assert target.is_file(), (name, url)
                else:
                    assert url.startswith("https://www.city.osaka.lg.jp/"), (name, url)
            if name == "data":  # the build the downloads are of, as datapackage.json names it
                shown = page.evaluate("() => document.getElementById('build-id').textContent")
                assert re.fullmatch(r"[0-9a-f]{16}", shown.strip()), shown
            _shot(page, f"report-{name}-{width}.png")
            if width == 390:
                assert layout["sticky"] or name in ("item", "data"), name  # a box did scroll
        watch.check()
    finally:
        watch.close()


# --- search ---------------------------------------------------------------------------------


def _queries(tables: dict[str, pd.DataFrame]) -> list[str]:
    """2–4 character substrings of titles, a few per length, and words with a space."""
    titles = sorted(set(tables["nodes"]["title"].dropna()))
    found: list[str] = []
    for n, title in enumerate(titles[::7]):
        for size in (2, 3, 4):
            start = (n * 3) % max(len(title) - size, 1)
            if len(title) >= size:
                found.append(title[start : start + size])
    return [*dict.fromkeys(found), "防災", "子育て", "ＩＣＴ", "区民 安全", "の"]


def test_search_finds_what_the_cli_finds(browser: Any, tmp_path: Path) -> None:
    """Queries typed into the box find the nodes `osaka-unei search --format json` finds."""
    import json

    from typer.testing import CliRunner

    from osaka_unei.cli import app
    from tests.report_data import PROCESSED

    tables = real_tables(derived=True)
    render_site(tables, real_coverage(tables), BUILT, tmp_path)
    runner = CliRunner()

    def cli(query: str) -> list[str]:
        args = ["search", query, "--format", "json", "--limit", "100000"]
        result = runner.invoke(app, [*args, "--processed-dir", str(PROCESSED)])
        assert result.exit_code == 0, result.output
        text = result.stdout  # an empty answer says so in a line (stderr) before its []
        records = json.loads(text[text.index("\n[") + 1 if not text.startswith("[") else 0 :])
        return [f"{r['policy_id']}:{r['node_key']}" for r in records]

    watch = Watch(browser, width=390)
    try:
        page = watch.open(tmp_path / "wards" / "minato.html")  # any page: the box is on each
        queries = _queries(tables)
        assert len(queries) > 40
        for query in queries:
            expected = cli(query)
            page.fill("#search-q", query)
            count = page.locator("#search-results .count")
            count.wait_for(state="visible")
            shown = page.eval_on_selector_all(
                "#search-results li", "items => items.map(li => li.dataset.node)"
            )
            assert int(count.get_attribute("data-count")) == len(expected), query
            assert sorted(shown) == sorted(expected), query
            if expected:
                assert page.locator("#search-results li mark").count() >= 1 or query.count(" ")
        page.fill("#search-q", "地域防災")
        page.locator("#search-results .count").wait_for(state="visible")
        assert "地域防災" in page.locator("#search-results li mark").first.inner_text()
        _shot(page, "report-search-390.png")
        first = page.locator("#search-results li a").first
        target = first.get_attribute("href")
        first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith(target.removeprefix("../")), (page.url, target)
        assert page.locator("h1").inner_text()
        watch.check()
    finally:
        watch.close()


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
        community = page.locator('#themes tr[data-theme="community"]')
        assert community.locator("th").get_attribute("title") == (
            "neighbourhood activity, partnership and community"
        )
        assert "地域活動・協働・地域コミュニティ" in community.inner_text()
        assert "50,847" in community.inner_text()
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
                assert row.locator("td.num").inner_text() == "32,550"
                align = row.locator("td.num").evaluate("td => getComputedStyle(td).textAlign")
                assert align == "right"
                _shot(page, "report-ward-minato.png")
            page.go_back(wait_until="load")

        page.locator('table.coverage thead a[href="years/2022.html"]').click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().startswith("令和4年度(2022年度)")
        assert page.locator("#wards tbody tr").count() == 24
        assert page.locator("#wards tbody tr.absent").count() == 22
        _assert_charts_visible(page, 1)
        _shot(page, "report-year-2022.png")
        watch.check()
    finally:
        watch.close()


def test_tree_rows_lead_to_item_pages(browser: Any, wide_site: Path) -> None:
    watch = Watch(browser)
    try:
        page = watch.open(wide_site / "wards" / "minato.html")
        _assert_charts_visible(page, 1)  # the ward's budget per year
        link = page.locator("#y2023 table.tree tr.initiative a").first
        assert link.inner_text() == "地域課題解決に向けた取組への支援"
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/items/minato-initiative-1-2-2.html")
        assert page.locator("h1").inner_text().startswith("地域課題解決に向けた取組の支援")
        rows = page.locator("#amounts tbody tr")
        assert rows.count() == 3
        assert rows.nth(1).locator(".renamed").count() == 1
        assert rows.nth(1).locator("td.num").get_attribute("data-thousand-yen") == "65100"
        _assert_charts_visible(page, 1)
        ticks = page.eval_on_selector_all("svg text", "ts => ts.map(t => t.textContent)")
        assert [t for t in ticks if t.isdigit() and len(t) == 4] == ["2022", "2023", "2024"]
        _shot(page, "report-item-minato.png")
        watch.check()
    finally:
        watch.close()
