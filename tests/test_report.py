"""The static report: coverage frame, figures and the rendered pages (no browser)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from osaka_unei.models import RawRecord
from osaka_unei.publish.catalog import PUBLISHED_TABLES
from osaka_unei.published import file_hash
from osaka_unei.report import Download, coverage_frame, read_digests, render_site, svg
from osaka_unei.report.figures import fmt_amount, fmt_count, fmt_yen
from osaka_unei.report.site import built_label
from osaka_unei.wards import WARD_SLUGS
from tests.report_data import lineage_by_code, real_coverage, real_tables, registry, with_copy

BUILT = dt.datetime(2026, 11, 21, 1, 2, 3, tzinfo=dt.UTC)
BUILT_TEXT = "2026-11-21 10:02 JST (2026-11-21T01:02:03Z)"
CITY = "https://www.city.osaka.lg.jp/"
REAL_WARD_PAGES = [
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
STATIC = ["report-pages.json", "search-index.js", "search.js", "style.css"]
# words that must never reach a reader (issue 18)
LEAKS = re.compile(r"\b(nan|NaN|None|NaT|undefined|null)\b|<NA>|戦略nan")


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
    assert fmt_amount(32550) == "32,550"
    assert fmt_amount(1234567) == "1,234,567"
    assert fmt_amount(0) == "0"
    assert fmt_amount(None) == "—"
    assert fmt_amount(pd.NA) == "—"
    assert fmt_yen(32550) == "32,550 千円"
    assert fmt_yen(float("nan")) == "—"
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
        _record("hirano/7-a.html", url.format("hirano", 7), "hirano", 2027),
        # a typo for 2018: outside the site's range, it has no cell (issue 19 item 3)
        _record("hirano/8-a.html", url.format("hirano", 8), "hirano", 20182),
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
    # a year past 2026 (the next fiscal year) widens the grid for every ward; a year the
    # site cannot have (20182) does not: before, the grid grew to 18,000 columns
    assert _cell(coverage, "hirano", 2027)["status"] == "stored"
    assert _cell(coverage, "kita", 2027)["status"] == "missing"
    assert len(coverage) == 24 * (2027 - 2013 + 1)


def test_coverage_of_nothing_is_the_empty_grid() -> None:
    empty = pd.DataFrame(columns=["path", "url", "ward_slug", "fiscal_year", "status", "messages"])
    coverage = coverage_frame(registry().iloc[:0], [], empty)
    assert len(coverage) == 24 * 14
    assert set(coverage["status"]) == {"missing"}


# --- charts -------------------------------------------------------------------------------


def test_ticks_are_round_and_cover_the_top() -> None:
    assert svg.nice_ticks(65958) == [0, 20000, 40000, 60000, 80000]
    assert svg.nice_ticks(3) == [0, 1, 2, 3]
    assert svg.nice_ticks(0) == [0, 1]


def test_year_chart_prints_each_year_once_and_text_of_readable_size() -> None:
    chart = svg.year_bars([(2021, 100, False), (2022, None, False), (2023, 250, True)], "x")
    years = re.findall(r">(20\d\d)</text>", chart)
    assert years == ["2021", "2022", "2023"]  # integer years, each once (issue 18)
    width, height = re.match(
        r'<svg[^>]* width="(\d+)" height="(\d+)" viewBox="0 0 \1 \2"', chart
    ).groups()
    assert int(width) > 100 and int(height) > 100  # drawn at its own size, never scaled
    assert f'font-size="{svg.FONT_PX}"' in chart and svg.FONT_PX >= 10
    assert "—" in chart  # 2022: no amount, a visible gap, not 0
    assert svg.SUMMED in chart and "下位項目の合計" in chart  # 2023 is a sum


def test_heat_map_and_ward_bars() -> None:
    heat = svg.heat_map(["北区", "港区"], [2021, 2022], {("港区", 2022): 5}, "h")
    assert heat.count("<title>") == 1 and "港区 2022年度 5 千円" in heat
    bars = svg.ward_bars([("北区", 1200), ("港区", 30)], "b")
    assert "1,200" in bars and "北区" in bars


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


def _items(tables: dict[str, pd.DataFrame]) -> list[str]:
    nodes = tables["nodes"]
    return sorted(f"items/{lid}.html" for lid in nodes["lineage_id"].dropna().unique())


def _site_files(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())


def test_page_list(site: Path, tables: dict[str, pd.DataFrame]) -> None:
    expected = sorted(["index.html", *STATIC, *REAL_WARD_PAGES, *_items(tables)])
    assert _site_files(site) == expected
    assert len(_items(tables)) == 89  # every lineage of the committed data has a page


def test_render_returns_what_it_wrote(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    written = render_site(tables, coverage, BUILT, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == _site_files(tmp_path)


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
            elif tag == "script":
                assert url in ("search.js", "../search.js"), (page, url)
            elif tag in ("img", "iframe"):
                pytest.fail(f"{page}: <{tag} {attribute}={url}>")
            else:
                assert not url.startswith("/"), (page, url)  # relative: works from disk
        text = page.read_text("utf-8")
        assert text.count("<script") == 1  # the search, from a file beside the pages
        assert "@import" not in text
        # url() only for a chart's own gradient, by id
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= set(
            "#" + i for i in re.findall(r' id="([^"]+)"', text)
        ), page
    script = (site / "search.js").read_text("utf-8") + (site / "search-index.js").read_text("utf-8")
    assert "http" not in script and "fetch(" not in script and "XMLHttpRequest" not in script
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
    # budget table (千円 in the header): 港区 2022 65,958; 北区 2019 prints no amount
    assert (
        '<td class="num" data-policy="minato-2022" data-thousand-yen="65958">65,958</td>' in index
    )
    assert '<td class="num" data-policy="kita-2019" data-thousand-yen="">—</td>' in index
    assert "135,783" in index
    assert 'id="themes"' not in index  # no themes table given
    assert index.count("<svg") == 1


def _node_cells(text: str) -> list[tuple[str, str, str, bool]]:
    """(policy_id:node_key, data-thousand-yen, shown text, summed) of every amount cell."""
    return [
        (node, value, shown, "summed" in classes)
        for classes, node, value, shown in re.findall(
            r'<td class="([^"]*)" data-node="([^"]+)" data-thousand-yen="([^"]*)"[^>]*>([^<]*)</td>',
            text,
        )
    ]


def test_every_amount_is_the_nodes_tables(site: Path, tables: dict[str, pd.DataFrame]) -> None:
    nodes = tables["nodes"]
    amounts = {
        f"{r.policy_id}:{r.node_key}": (r.thousand_yen, r.printed)
        for r in nodes.itertuples(index=False)
    }
    seen = 0
    for page in sorted(site.rglob("*.html")):
        for node, value, shown, summed in _node_cells(page.read_text("utf-8")):
            amount, printed = amounts[node]
            if pd.isna(amount):
                assert (value, shown, summed) == ("", "—", False), (page, node)
            else:
                assert (value, shown) == (str(int(amount)), f"{int(amount):,}"), (page, node)
                assert summed == (not bool(printed)), (page, node)
            seen += 1
    # every node on its ward page and on its item page; each issue on its year page too
    assert seen == 2 * len(nodes) + (nodes["level"] == "issue").sum()


def test_no_missing_value_words_anywhere(site: Path) -> None:
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html" or path.name == "search-index.js":  # not the code
            found = LEAKS.search(path.read_text("utf-8"))
            assert found is None, (path, found and found.group(0))


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
    assert (
        '<td class="code">1-2-2</td><td class="text">'
        '<a href="../items/minato-initiative-2022-1-2-2.html">地域課題解決に向けた取組の支援</a></td>'
        '<td class="num" data-node="minato-2022:1.1.1" data-thousand-yen="32550">32,550</td>'
    ) in minato
    # 経営課題3 prints no amount: the sum of its items, marked
    assert (
        '<td class="num summed" data-node="minato-2022:3" data-thousand-yen="19915" '
        'title="下位項目の合計">19,915</td>'
    ) in minato
    assert "65,958 千円" in minato
    kita = (site / "wards" / "kita.html").read_text("utf-8")
    assert "平成31年度北区運営方針" in kita and 'id="y2019"' in kita
    assert 'data-thousand-yen="">—</td>' in kita  # no amount printed, not 0


def test_year_page_compares_wards_and_lists_the_missing(site: Path) -> None:
    year = (site / "years" / "2022.html").read_text("utf-8")
    assert "令和4年度(2022年度)" in year
    assert "24区のうち <strong>2 区</strong>" in year
    row = (
        '<tr data-ward="{}" data-status="ok"><th scope="row"><a href="../wards/{}.html#y2022">{}</a>'
        '</th><td class="status" title="parsed ok">解析済み</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td><td class="num" data-policy="{}-2022" data-thousand-yen="{}">{}</td></tr>'
    )
    assert row.format("minato", "minato", "港区", 6, 10, 10, "minato", 65958, "65,958") in year
    assert row.format("tsurumi", "tsurumi", "鶴見区", 5, 5, 5, "tsurumi", 68388, "68,388") in year
    assert year.index("港区") < year.index("鶴見区")
    # all 24 wards; the 22 without a page are listed as not in the dataset, never as complete
    assert len(re.findall(r"<tr data-ward=", year)) == 24
    assert (
        len(re.findall(r'<tr data-ward="[a-z]+" data-status="[a-z]+" class="absent">', year)) == 22
    )
    assert "北区、此花区" in year  # known in the registry for 2022, not in the dataset
    assert year.count("<svg") == 1
    # each ward's issues, linked to their item pages
    assert 'href="../items/minato-issue-2022-1.html">区民主体のまちづくり</a>' in year


def _minato_years(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """港区 2022 as in the data, 2023 with amounts doubled, one initiative renamed and the
    strategies unnumbered (as 令和5年度+ pages print them), 2024 tripled."""
    more = with_copy(with_copy(tables, "minato-2022", 2023, factor=2), "minato-2022", 2024, 3)
    strategies = more["strategies"]
    more["strategies"] = strategies.assign(
        strategy_code=strategies["strategy_code"].mask(strategies["policy_id"] == "minato-2023")
    )
    initiatives = more["initiatives"]
    renamed = (initiatives["policy_id"] == "minato-2023") & (
        initiatives["initiative_code"] == "1-2-2"
    )
    more["initiatives"] = initiatives.assign(
        title=initiatives["title"].mask(renamed, "地域課題解決に向けた取組への支援")
    )
    more["lineage"] = lineage_by_code(more, "minato")
    # the committed nodes' themes, and the same for the copies
    themes = tables["nodes"][["policy_id", "node_key", "themes"]].dropna()
    themes = themes.assign(theme=themes["themes"].str.split(";")).explode("theme")
    copies = [
        themes[themes["policy_id"] == "minato-2022"].assign(policy_id=f"minato-{year}")
        for year in (2023, 2024)
    ]
    more["themes"] = pd.concat([themes, *copies], ignore_index=True)[
        ["policy_id", "node_key", "theme"]
    ]
    return more


def test_item_page_follows_an_item_across_years(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    more = _minato_years(tables)
    render_site(more, coverage, BUILT, tmp_path)
    item = (tmp_path / "items" / "minato-initiative-1-2-2.html").read_text("utf-8")
    # titles year by year, the rename visible
    assert "地域課題解決に向けた取組の支援 → 地域課題解決に向けた取組への支援" in item
    assert item.count('class="renamed"') == 2  # 2023 renamed, 2024 back to the old title
    # the amount per year, from the nodes table; each year's city page
    assert re.search(r'data-node="minato-2023:1\.1\.1" data-thousand-yen="65100">65,100<', item)
    assert re.search(r'data-node="minato-2024:1\.1\.1" data-thousand-yen="97650">97,650<', item)
    assert item.count('href="https://www.city.osaka.lg.jp/minato/page/0000565017.html"') == 3
    # the strategy and issue it sits under, each year; an unnumbered strategy has no code
    assert "戦略1-2 地域活動協議会による自律的な地域運営の促進" in item
    assert ">戦略 地域活動協議会による自律的な地域運営の促進<" in item
    assert "経営課題1 区民主体のまちづくり" in item
    assert re.findall(r">(20\d\d)</text>", item) == ["2022", "2023", "2024"]
    # a summed amount is marked on the issue's page
    issue = (tmp_path / "items" / "minato-issue-3.html").read_text("utf-8")
    assert 'class="num summed" data-node="minato-2023:3" data-thousand-yen="39830"' in issue
    assert "39,830 千円 (計)" in issue
    ward = (tmp_path / "wards" / "minato.html").read_text("utf-8")
    assert '<td class="code">戦略</td>' in ward and "戦略nan" not in ward
    assert 'href="../items/minato-initiative-1-2-2.html"' in ward
    for path in tmp_path.rglob("*.html"):
        assert LEAKS.search(path.read_text("utf-8")) is None, path


def test_themes_per_fiscal_year_never_across_years(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    more = _minato_years(tables)
    render_site(more, coverage, BUILT, tmp_path)
    index = (tmp_path / "index.html").read_text("utf-8")
    section = index[index.index('id="themes"') :]
    assert ">計<" not in section  # no total across different wards' different years
    # community: 港区 33,032 + 鶴見区 17,815 in 2022 (README pivot); 港区 66,064 in 2023
    community = re.search(r'<tr data-theme="community">.*?</tr>', section, re.S).group(0)
    assert "地域活動・協働・地域コミュニティ" in community  # the codebook's Japanese name
    assert 'data-year="2022" data-thousand-yen="50847"' in community
    assert 'data-year="2023" data-thousand-yen="66064"' in community
    assert re.search(r'<td class="num" title="港区、鶴見区">2区</td>', section)


def test_unchanged_pages_keep_their_bytes(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    render_site(tables, coverage, BUILT, first)
    later = BUILT + dt.timedelta(days=1)
    # one page changes: 港区's first initiative gets another amount
    changed = dict(tables)
    nodes = tables["nodes"]
    hit = (nodes["policy_id"] == "minato-2022") & (nodes["node_key"] == "1.1.1")
    changed["nodes"] = nodes.assign(thousand_yen=nodes["thousand_yen"].mask(hit, 40000))
    hashes = {name: file_hash((first / name).read_bytes()) for name in _site_files(first)}
    (first / "wards" / "nishi.html").write_bytes(b"edited by hand")  # not kept: drawn again
    render_site(
        changed,
        coverage,
        later,
        second,
        previous=first,
        previous_digests=read_digests(first),
        previous_hashes=hashes,
    )
    assert b"edited by hand" not in (second / "wards" / "nishi.html").read_bytes()
    (first / "wards" / "nishi.html").write_bytes((second / "wards" / "nishi.html").read_bytes())
    redrawn = {
        name
        for name in _site_files(second)
        if name.endswith(".html") and (first / name).read_bytes() != (second / name).read_bytes()
    }
    # its ward page and its item page; the index and year pages show policy totals only
    assert redrawn == {"wards/minato.html", "items/minato-initiative-2022-1-2-2.html"}
    assert "2026-11-22" in (second / "wards" / "minato.html").read_text("utf-8")
    assert "2026-11-22" not in (second / "wards" / "kita.html").read_text("utf-8")
    assert read_digests(second).keys() == read_digests(first).keys()


def test_published_report_keeps_unchanged_pages_in_place(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    """Published as `osaka-unei report` publishes it: the hashes render_site hands over (made
    from the bytes it wrote, not read back) are the files'; after one amount changes, only
    the pages whose inputs changed are replaced, every other page is the same file (same
    inode and mtime), and the manifest names each file's bytes."""
    import json

    from osaka_unei.publish.outputs import publish_outputs
    from osaka_unei.published import build_files

    out = tmp_path / "report"
    manifest = "report-inputs.json"

    def publish(frames: dict[str, pd.DataFrame], when: dt.datetime) -> dict[str, str]:
        previous = build_files(json.loads((out / manifest).read_text())) if out.is_dir() else None
        hashes: dict[str, str] = {}

        def render(staging: Path) -> None:
            render_site(
                frames,
                coverage,
                when,
                staging,
                previous=out if previous else None,
                previous_digests=read_digests(out if previous else None),
                previous_hashes=previous,
                hashes=hashes,
            )
            assert hashes == {
                n: file_hash((staging / n).read_bytes()) for n in _site_files(staging)
            }

        publish_outputs(out, {}, render, manifest=manifest, known=hashes)
        files = build_files(json.loads((out / manifest).read_text()))
        assert files is not None
        on_disk = {n: file_hash((out / n).read_bytes()) for n in _site_files(out)}
        assert files == {n: h for n, h in on_disk.items() if n != manifest}
        return files

    publish(tables, BUILT)
    before = {name: (out / name).stat() for name in _site_files(out)}
    changed = dict(tables)
    nodes = tables["nodes"]
    hit = (nodes["policy_id"] == "minato-2022") & (nodes["node_key"] == "1.1.1")
    changed["nodes"] = nodes.assign(thousand_yen=nodes["thousand_yen"].mask(hit, 40000))
    publish(changed, BUILT + dt.timedelta(days=1))
    after = {name: (out / name).stat() for name in _site_files(out)}
    assert after.keys() == before.keys()
    moved = {
        name
        for name, stat in after.items()
        if name.endswith(".html")
        and (stat.st_ino, stat.st_mtime_ns) != (before[name].st_ino, before[name].st_mtime_ns)
    }
    assert moved == {"wards/minato.html", "items/minato-initiative-2022-1-2-2.html"}


def test_downloads_and_dictionary(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    files = [Download("nodes.csv", 12_345), Download("osaka_unei.sqlite", 2_500_000)]
    render_site(
        tables,
        coverage,
        BUILT,
        tmp_path,
        downloads=files,
        build_id="abc123",
        specs=PUBLISHED_TABLES,
    )
    data = (tmp_path / "data.html").read_text("utf-8")
    assert '<code id="build-id">abc123</code>' in data
    assert '<a href="../processed/nodes.csv" download>nodes.csv</a>' in data
    assert '<td class="num" data-bytes="12345">12.3 kB</td>' in data
    assert "2.5 MB" in data and 'href="dictionary.html#t-nodes"' in data
    dictionary = (tmp_path / "dictionary.html").read_text("utf-8")
    for spec in PUBLISHED_TABLES:
        assert f'id="t-{spec.name}"' in dictionary
        for column in spec.columns:
            assert f"<code>{column.name}</code>" in dictionary, (spec.name, column.name)
    assert "表示する金額(千円)" in dictionary and "千円" in dictionary
    assert LEAKS.search(dictionary) is None
    index = (tmp_path / "index.html").read_text("utf-8")
    assert 'href="data.html"' in index and 'href="dictionary.html"' in index


def test_search_index_finds_what_the_database_finds(site: Path) -> None:
    """The index holds every node; the matching search.js does (NFKC, substring of title or
    description, every word) finds what `osaka-unei search` finds in the database."""
    import json
    import sqlite3

    from osaka_unei.db import fts
    from osaka_unei.db.search import search
    from tests.report_data import PROCESSED

    text = (site / "search-index.js").read_text("utf-8")
    data = json.loads(text[text.index("=") + 1 :].strip().rstrip(";"))
    rows = data["rows"]
    database = PROCESSED / "osaka_unei.sqlite"
    with sqlite3.connect(database) as conn:
        keys = dict(conn.execute("SELECT node_id, policy_id || ':' || node_key FROM nodes"))
    assert len(rows) == len(keys)

    def found(query: str) -> set[str]:
        words = fts.normalize(query).split()
        return {
            row[9]
            for row in rows
            if all(w in fts.normalize(row[4]) or w in fts.normalize(row[5]) for w in words)
        }

    for query in ("防災", "地域", "子育て支援", "まちづくり", "ＩＣＴ", "区民 安全", "見守り"):
        expected = {keys[hit.node_id] for hit in search(database, query, limit=10_000)}
        assert found(query) == expected, query


def test_no_policies_gives_the_index_alone(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, tmp_path: Path
) -> None:
    empty = {name: frame.iloc[:0] for name, frame in tables.items()}
    written = render_site(empty, coverage, BUILT, tmp_path)
    assert [p.name for p in written] == ["index.html", *STATIC]
    index = (tmp_path / "index.html").read_text("utf-8")
    assert "収録されている方針はまだありません" in index
    assert "<svg" not in index


def test_deterministic(
    tables: dict[str, pd.DataFrame], coverage: pd.DataFrame, site: Path, tmp_path: Path
) -> None:
    render_site(tables, coverage, BUILT, tmp_path)
    for name in _site_files(site):
        assert (tmp_path / name).read_bytes() == (site / name).read_bytes(), name


def test_bench_measures_the_report_and_one_new_version() -> None:
    """bench/build_bench.py: the full report, then one page's new version redraws only the
    pages that depend on it (issue 21)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from build_bench import measure_build, new_version
    from corpus import load_sources, make_build_corpus

    pages = make_build_corpus(load_sources(), 20)
    assert new_version(pages).data != pages[0].data
    figures = measure_build(pages, report=True)
    report = figures["report"]
    assert report["exit_code"] == 0, report.get("log_tail")
    assert report["pages"] == report["pages_redrawn"] > 20
    assert {"load", "render", "publish", "publish.fsync"} <= set(report["phases"])
    one = figures["one_new_version"]
    assert (one["build"]["exit_code"], one["build"]["parsed"]) == (0, 1)
    assert one["report"]["exit_code"] == 0, one["report"].get("log_tail")
    # the index, the page's ward and year pages and some item pages; not the others
    assert 3 <= one["report"]["pages_redrawn"] < report["pages"] / 2


# --- the multi-year corpus and the benchmark's store (issue 18's property checks) -----------


@pytest.mark.parametrize("store", ["multiyear", "bench"])
def test_report_of_a_multiyear_store_passes_the_property_checks(
    store: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from osaka_unei.publish.report import write_report
    from tests.multiyear import bench_build, multiyear_build
    from tests.properties import (
        amounts_in_html,
        assert_amount_cells_agree,
        assert_no_missing_tokens,
        assert_no_repeated_ticks,
    )

    built = (
        multiyear_build(tmp_path_factory) if store == "multiyear" else bench_build(tmp_path_factory)
    )
    site = tmp_path_factory.mktemp(f"report-{store}") / "report"
    names = write_report(built.out, built.raw, built.raw / "no-registry.csv", site)
    nodes = built.tables["nodes"]
    cells = 0
    items = 0
    for name in names:
        if not name.endswith(".html"):
            continue
        text = (site / name).read_text("utf-8")
        assert_no_missing_tokens(text, what=name)
        assert_no_repeated_ticks(text, what=name)
        found = amounts_in_html(text)
        assert_amount_cells_agree(found, nodes, what=name)
        cells += len(found)
        items += name.startswith("items/")
    assert items == nodes["lineage_id"].nunique()  # every lineage has its page
    assert cells >= 2 * len(nodes)  # each node on its ward page and its item page
    assert "戦略nan" not in "".join((site / n).read_text("utf-8") for n in names if "wards/" in n)


def test_a_report_drawn_again_is_byte_for_byte_one_drawn_from_nothing(tmp_path: Path) -> None:
    """After one page's new version the report redraws a few pages and carries the others
    over where they are (same inode, never staged); every file is then byte for byte what a
    report drawn from nothing holds, but for the build time a kept page shows (by design
    the time of the build that last changed its data). A kept page edited by hand (same
    size, its mtime put back) is drawn again, never carried over."""
    import json
    import os
    import sys

    from osaka_unei.publish.report import built_at, write_report
    from osaka_unei.publish.run import run_build
    from tests.multiyear import write_bench_store

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from build_bench import new_version, write_raw_store

    raw, out, data = tmp_path / "raw", tmp_path / "out", tmp_path / "data"
    data.mkdir()
    pages = write_bench_store(raw, 48)
    run_build(raw, out, tmp_path / "cache", data_dir=data)
    site = tmp_path / "report"
    write_report(out, raw, raw / "no-registry.csv", site)
    before = {name: os.stat(site / name) for name in _site_files(site)}
    first_built = built_label(built_at(out)).encode()

    page = new_version(pages)
    other = next(f"wards/{p.ward_slug}.html" for p in pages if p.ward_slug != page.ward_slug)
    text = (site / other).read_bytes()
    edited = text.replace(b"<main", b"<MAIN", 1)
    assert edited != text and len(edited) == len(text)
    (site / other).write_bytes(edited)
    os.utime(site / other, ns=(before[other].st_atime_ns, before[other].st_mtime_ns))

    write_raw_store(raw, [page])
    run_build(raw, out, tmp_path / "cache", data_dir=data)
    names = write_report(out, raw, raw / "no-registry.csv", site)
    fresh = tmp_path / "fresh"
    assert write_report(out, raw, raw / "no-registry.csv", fresh) == names
    assert _site_files(site) == _site_files(fresh)
    built = built_label(built_at(out)).encode()
    for name in _site_files(fresh):
        if name == "report-inputs.json":  # the manifest: hashes of the pages' bytes
            mine, theirs = (json.loads((s / name).read_bytes()) for s in (site, fresh))
            assert mine["inputs"] == theirs["inputs"]
            assert mine["build"]["files"].keys() == theirs["build"]["files"].keys()
            continue
        kept = (site / name).read_bytes().replace(first_built, built)
        assert kept == (fresh / name).read_bytes(), name
    after = {name: os.stat(site / name) for name in _site_files(site)}
    same = {n for n in before.keys() & after.keys() if before[n].st_ino == after[n].st_ino}
    redrawn = {n for n in after if n.endswith(".html") and n not in same}
    assert other in redrawn  # the hand edit is gone
    assert f"wards/{page.ward_slug}.html" in redrawn and "index.html" in redrawn
    assert len(redrawn) < len(after) / 4
    for name in same:  # carried over untouched
        assert after[name].st_mtime_ns == before[name].st_mtime_ns
        assert after[name].st_ctime_ns == before[name].st_ctime_ns
