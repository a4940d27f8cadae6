"""The static report: coverage frame, figures and the rendered pages (no browser)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from osaka_unei.models import RawRecord
from osaka_unei.report import coverage_frame, render_site
from osaka_unei.report.charts import ChartError, checked, to_svg
from osaka_unei.report.figures import Figures, fmt_amount, fmt_count
from osaka_unei.report.site import built_label
from osaka_unei.wards import WARD_SLUGS
from tests.report_data import real_coverage, real_tables, registry, with_copy

BUILT = dt.datetime(2026, 11, 21, 1, 2, 3, tzinfo=dt.UTC)
BUILT_TEXT = "2026-11-21 10:02 JST (2026-11-21T01:02:03Z)"
CITY = "https://www.city.osaka.lg.jp/"
REAL_PAGES = [
    "index.html",
    "style.css",
    "wards/higashisumiyoshi.html",
    "wards/kita.html",
    "wards/minato.html",
    "wards/nishi.html",
    "wards/tsurumi.html",
    "years/2017.html",
    "years/2019.html",
    "years/2020.html",
    "years/2022.html",
]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return real_tables()


@pytest.fixture(scope="module")
def coverage(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return real_coverage(tables)


@pytest.fixture(scope="module")
def site(
    tables: dict[str, pd.DataFrame],
    coverage: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("site")
    render_site(tables, coverage, BUILT, out)
    return out


def _cell(coverage: pd.DataFrame, slug: str, year: int) -> pd.Series:
    rows = coverage[(coverage["ward_slug"] == slug) & (coverage["fiscal_year"] == year)]
    assert len(rows) == 1
    return rows.iloc[0]


# --- formatting ---------------------------------------------------------------------------


def test_amounts_have_thousands_separators_and_missing_is_a_dash() -> None:
    assert fmt_amount(32550) == "32,550千円"
    assert fmt_amount(1234567) == "1,234,567千円"
    assert fmt_amount(46) == "46千円"
    assert fmt_amount(0) == "0千円"
    assert fmt_amount(None) == "—"
    assert fmt_amount(pd.NA) == "—"
    assert fmt_count(1000) == "1,000"


def test_built_label_in_jst_and_utc() -> None:
    assert built_label(BUILT) == BUILT_TEXT
    # a naive time is UTC; a JST time says the same instant
    assert built_label(BUILT.replace(tzinfo=None)) == BUILT_TEXT
    jst = dt.timezone(dt.timedelta(hours=9))
    assert built_label(dt.datetime(2026, 11, 21, 10, 2, 3, tzinfo=jst)) == BUILT_TEXT


# --- coverage -----------------------------------------------------------------------------


def test_coverage_of_the_real_data(coverage: pd.DataFrame) -> None:
    # 24 wards × 2013…2026, one row each
    assert len(coverage) == 24 * 14
    assert set(coverage["ward_slug"]) == set(WARD_SLUGS.values())
    assert sorted(set(coverage["fiscal_year"])) == list(range(2013, 2027))
    kita = _cell(coverage, "kita", 2019)
    assert (kita["status"], kita["policy_id"]) == ("ok", "kita-2019")
    assert (kita["known_pages"], kita["stored_files"]) == (1, 1)
    assert kita["url"] == "https://www.city.osaka.lg.jp/kita/page/0000466843.html"
    # in the registry (page 596302) but never fetched
    minato = _cell(coverage, "minato", 2023)
    assert (minato["status"], minato["stored_files"]) == ("known", 0)
    assert minato["url"] == "https://www.city.osaka.lg.jp/minato/page/0000596302.html"
    assert pd.isna(minato["policy_id"])
    assert _cell(coverage, "kita", 2013)["status"] == "missing"
    # 住吉区 2013 has two pages in the registry
    assert _cell(coverage, "sumiyoshi", 2013)["known_pages"] == 2
    counts = coverage["status"].value_counts().to_dict()
    # registry: 104 pages in 102 ward-years; the 5 captures parsed ok
    assert counts == {"missing": 336 - 102, "known": 97, "ok": 5}


def _record(path: str | None, url: str, slug: str, year: int | None = None) -> RawRecord:
    return RawRecord(
        url=url,
        fetched_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        outcome="fetched" if path else "failed",
        path=path,
        ward_slug=slug,
        fiscal_year=year,
        sha256="0" * 64 if path else None,
    )


def test_coverage_stages_and_year_lookup() -> None:
    url = "https://www.city.osaka.lg.jp/{}/page/{:010d}.html"
    reg = pd.DataFrame(
        [
            (url.format("kita", 1), "kita", 2015),
            (url.format("kita", 2), "kita", 2016),
            (url.format("kita", 3), "kita", 2017),
            (url.format("abeno", 4), "abeno", 2018),
            (url.format("abeno", 5), "abeno", 2019),
            (url.format("abeno", 6), "abeno", 2019),
        ],
        columns=["url", "ward_slug", "fiscal_year"],
    )
    records = [
        # stored, not yet built: its year comes from the registry (zero padding differs)
        _record("kita/2-a.html", "https://www.city.osaka.lg.jp/kita/page/2.html", "kita"),
        _record("kita/3-a.html", url.format("kita", 3), "kita"),
        _record(None, url.format("abeno", 4), "abeno"),  # a failed fetch stores nothing
        _record("abeno/5-a.html", url.format("abeno", 5), "abeno"),
        _record("abeno/6-a.html", url.format("abeno", 6), "abeno"),
        _record("abeno/6-b.html", url.format("abeno", 6), "abeno"),
        _record("hirano/7-a.html", url.format("hirano", 7), "hirano", 2030),
    ]
    report = pd.DataFrame(
        [
            ("kita/3-a.html", url.format("kita", 3), "kita", None, "error", "not a ward page"),
            ("abeno/5-a.html", url.format("abeno", 5), "abeno", 2019, "warning", "odd line"),
            ("abeno/6-a.html", url.format("abeno", 6), "abeno", 2019, "superseded", "older"),
            ("abeno/6-b.html", url.format("abeno", 6), "abeno", 2019, "error", "empty"),
        ],
        columns=["path", "url", "ward_slug", "fiscal_year", "status", "messages"],
    )
    coverage = coverage_frame(reg, records, report)
    assert _cell(coverage, "kita", 2015)["status"] == "known"
    assert _cell(coverage, "kita", 2016)["status"] == "stored"
    error = _cell(coverage, "kita", 2017)
    assert (error["status"], error["messages"]) == ("error", "not a ward page")
    assert _cell(coverage, "abeno", 2018)["status"] == "known"
    both = _cell(coverage, "abeno", 2019)  # a warning beats the other page's error
    assert (both["status"], both["policy_id"]) == ("warning", "abeno-2019")
    assert (both["known_pages"], both["stored_files"]) == (2, 3)
    assert both["url"] == url.format("abeno", 5)
    # a year past 2026 widens the grid for every ward
    assert _cell(coverage, "hirano", 2030)["status"] == "stored"
    assert _cell(coverage, "kita", 2028)["status"] == "missing"
    assert len(coverage) == 24 * (2030 - 2013 + 1)


def test_coverage_of_nothing_is_the_empty_grid() -> None:
    empty = pd.DataFrame(columns=["path", "url", "ward_slug", "fiscal_year", "status", "messages"])
    coverage = coverage_frame(registry().iloc[:0], [], empty)
    assert len(coverage) == 24 * 14
    assert set(coverage["status"]) == {"missing"}


# --- figures ------------------------------------------------------------------------------


def test_tree_sums_match_the_published_totals(tables: dict[str, pd.DataFrame]) -> None:
    figures = Figures.of(tables)
    minato = figures.trees["minato-2022"]
    assert [issue.code for issue in minato] == ["1", "2", "3", "4", "5", "6"]
    # 経営課題3: 14,955 (3-1-2) + 4,960 (3-3-4), neither printed on the issue itself
    assert (minato[2].own, minato[2].counted, minato[2].derived) == (None, 19915, True)
    first = minato[0].children[0].children[0]
    assert (first.code, first.own) == ("1-2-2", 32550)
    for row in tables["policies"].itertuples():
        counted = [i.counted for i in figures.trees[row.policy_id] if i.counted is not None]
        total = sum(counted) if counted else None
        expected = None if pd.isna(row.total_budget_thousand_yen) else row.total_budget_thousand_yen
        assert total == expected, row.policy_id


def test_chart_svg_has_a_size() -> None:
    import altair as alt

    frame = pd.DataFrame({"ward": ["北区", "港区"], "budget": [100, 2000]})
    svg = to_svg(alt.Chart(frame).mark_bar().encode(x="budget:Q", y="ward:N"))
    width, height = re.match(r'<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"', svg).groups()
    assert float(width) > 100 and float(height) > 20
    assert "港区" in svg
    with pytest.raises(ChartError):
        checked('<?xml version="1.0"?><svg width="0" height="82"></svg>')
    with pytest.raises(ChartError):
        checked("<p>no chart</p>")
    assert checked('<?xml version="1.0"?>\n<svg width="3" height="4"/>') == (
        '<svg width="3" height="4"/>'
    )


# --- the rendered site --------------------------------------------------------------------


class _Links(HTMLParser):
    """Every URL a page names in an attribute, and the attributes' owners."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "xlink:href", "action", "srcset", "poster", "data"):
                self.urls.append((tag, name, value or ""))


def _links(path: Path) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(path.read_text("utf-8"))
    return parser.urls


def test_page_list(site: Path) -> None:
    written = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert written == REAL_PAGES


def test_render_returns_what_it_wrote(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    written = render_site(tables, coverage, BUILT, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == REAL_PAGES


def test_no_network_assets_only_links_back_to_the_city(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        for tag, attribute, url in _links(page):
            if re.match(r"(?i)^(https?:)?//", url):
                # the only absolute addresses: plain links (<a>) to the city's own pages
                assert tag == "a" and attribute == "href", (page, tag, url)
                assert url.startswith(CITY), (page, url)
            elif tag == "link":
                assert url in ("../style.css", "style.css", "data:,"), (page, url)
            elif tag in ("script", "img", "iframe"):
                pytest.fail(f"{page}: <{tag} {attribute}={url}>")
            else:
                assert not url.startswith("/"), (page, url)  # relative: works from disk
        text = page.read_text("utf-8")
        assert "<script" not in text
        assert "@import" not in text
        # url() only for a chart's own gradient, by id
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= set(
            "#" + i for i in re.findall(r' id="([^"]+)"', text)
        ), page
    css = (site / "style.css").read_text("utf-8")
    assert (
        "http" not in css and "url(" not in css and "@import" not in css and "@font-face" not in css
    )


def test_every_page_says_when_it_was_built_and_credits_the_source(site: Path) -> None:
    for page in sorted(site.rglob("*.html")):
        text = page.read_text("utf-8")
        assert text.count(BUILT_TEXT) == 2, page  # header and footer
        assert f'<a href="{CITY}">大阪市</a>' in text, page
        assert "MIT License" in text and "大阪市に帰属" in text, page
        assert "CITATION.cff" in text, page


def test_index_coverage_matrix_and_honest_count(site: Path) -> None:
    index = (site / "index.html").read_text("utf-8")
    assert "336 件のうち <strong>5 件</strong>" in index
    assert "The dataset holds <strong>5</strong> of the 336 ward-year policies" in index
    assert "registry knows 104 pages (102 ward-years)" in index
    # city order: 北区 first, 西成区 last, 24 rows
    rows = re.findall(r'<tr data-ward="([a-z]+)">', index)
    assert rows == list(WARD_SLUGS.values())
    kita = re.search(r'<tr data-ward="kita">.*?</tr>', index, re.S).group(0)
    assert re.search(r'data-status="ok" data-year="2019"', kita)
    assert re.search(r'data-status="known" data-year="2016"', kita)
    assert re.search(r'data-status="missing" data-year="2013"', kita)
    assert '<a href="wards/kita.html#y2019">' in kita
    minato = re.search(r'<tr data-ward="minato">.*?</tr>', index, re.S).group(0)
    assert re.search(r'data-status="known" data-year="2023"', minato)
    # budget table: 港区 2022 65,958千円; 北区 2019 prints no amount
    assert "65,958千円" in index and "135,783千円" in index
    assert 'id="themes"' not in index  # no themes table given
    assert index.count("<svg") == 1


def test_ward_page_tree_version_and_source(site: Path) -> None:
    minato = (site / "wards" / "minato.html").read_text("utf-8")
    assert (
        '<a class="source" href="https://www.city.osaka.lg.jp/minato/page/0000565017.html">'
        in minato
    )
    assert "sha256 920d6197e236" in minato
    assert "2026-11-21 00:54:52Z" in minato  # fetched_at from the manifest
    assert "published 2024-03-13 ·" in minato  # the page date, a date (not a time)
    assert "令和4年度港区運営方針" in minato
    assert re.search(
        r"<td class=\"code\">1-2-2</td><td class=\"text\">地域課題解決に向けた取組の支援</td><td class=\"num\">32,550千円</td>",
        minato,
    )
    assert '<td class="num derived">19,915千円</td>' in minato
    assert "65,958千円" in minato
    kita = (site / "wards" / "kita.html").read_text("utf-8")
    assert "平成31年度北区運営方針" in kita and 'id="y2019"' in kita
    assert '<td class="num">—</td>' in kita  # no amount printed, not 0


def test_year_page_compares_wards(site: Path) -> None:
    year = (site / "years" / "2022.html").read_text("utf-8")
    assert "令和4年度(2022年度)" in year
    # 港区 6 issues, 10 strategies, 10 initiatives; 鶴見区 5/5/5 (city order: 港区 first)
    row = (
        r'<tr><th scope="row"><a href="../wards/{}.html#y2022">{}</a></th>'
        + (r'<td class="num">{}</td>' * 3)
        + r'<td class="num">{}</td></tr>'
    )
    assert row.format("minato", "港区", 6, 10, 10, "65,958千円") in year
    assert row.format("tsurumi", "鶴見区", 5, 5, 5, "68,388千円") in year
    assert year.index("港区") < year.index("鶴見区")
    assert year.count("<svg") == 1
    assert "北区、此花区" in year  # known in the registry for 2022, not in the dataset


def test_optional_themes_and_lineage(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    more = with_copy(tables, "minato-2022", 2023, factor=2)
    initiatives = more["initiatives"]
    pick = initiatives[initiatives["initiative_code"].isin(["1-2-2", "2-1-1"])]
    lineage = pick[["policy_id", "issue_position", "strategy_position", "position", "fiscal_year"]]
    more["lineage"] = lineage.assign(
        lineage_id="minato-" + pick["initiative_code"], level="initiative"
    )
    # themes on two nodes: an issue (its items inherit) and one initiative
    more["themes"] = pd.DataFrame(
        [
            ("minato-2022", "issue", 2, None, None, "防災・防犯"),
            ("minato-2022", "initiative", 1, 1, 1, "地域活動"),
            ("nishi-2017", "initiative", 1, 1, 1, "地域活動"),
        ],
        columns=["policy_id", "level", "issue_position", "strategy_position", "position", "theme"],
    )
    render_site(more, coverage, BUILT, tmp_path)
    index = (tmp_path / "index.html").read_text("utf-8")
    assert 'id="themes"' in index
    # 地域活動: 32,550 (港区 1-2-2, 2022) + 22,268 (西区 1-1-1, 2017) = 54,818
    assert '<td class="num">54,818千円</td>' in index
    # 防災・防犯: 2,025 (2-1-1) + 1,568 (2-2-1) = 3,593
    assert '<td class="num">3,593千円</td>' in index
    minato = (tmp_path / "wards" / "minato.html").read_text("utf-8")
    assert minato.count('class="lineage"') == 2
    assert 'data-lineage="minato-1-2-2"' in minato
    assert "65,100千円" in minato  # the 2023 copy: 32,550 × 2
    assert "(2023)" in minato and (tmp_path / "years" / "2023.html").is_file()


def test_no_policies_gives_the_index_alone(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    empty = {name: frame.iloc[:0] for name, frame in tables.items()}
    written = render_site(empty, coverage, BUILT, tmp_path)
    assert [p.name for p in written] == ["index.html", "style.css"]
    index = (tmp_path / "index.html").read_text("utf-8")
    assert "収録されている方針はまだありません" in index
    assert "<svg" not in index


def test_deterministic(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, site: Path, tmp_path: Path
) -> None:
    render_site(tables, coverage, BUILT, tmp_path)
    for name in REAL_PAGES:
        assert (tmp_path / name).read_bytes() == (site / name).read_bytes(), name
