"""Pages the parser must bound or recover: nesting too deep to parse in reasonable time is
refused in one line (and is an error row of the build), and a ward page with closing tags
missing still parses (or says what is wrong)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from osaka_unei import store
from osaka_unei.models import RawRecord
from osaka_unei.parse import PageError, nesting, parse_page
from osaka_unei.publish import run

PAGES = Path(__file__).parent / "fixtures" / "pages"


def _page(body: str) -> str:
    return (
        '<html><head><meta charset="utf-8"></head><body>'
        '<div id="sub_h1_box"><h1>令和4年度北区運営方針</h1></div><div id="mol_contents">'
        f"<h2>重点的に取り組む主な経営課題</h2>{body}</div></body></html>"
    )


# Each nests its innermost element N deep in the tree the HTML parser builds (worked out
# from the HTML tree-building rules, not from the code), with few bytes per level.
DEEP = {
    "30,000 nested div": lambda n: "<div>" * n + "【経営課題1】 x" + "</div>" * n,
    "span kept open past a div end tag": lambda n: "<span><div></span></div>" * n,
    "div with a stray </b>": lambda n: "<div></b>" * n,
    "li in a div in a li": lambda n: "<ul><li><div><li>x" * (n // 2),
}


@pytest.mark.parametrize("shape", DEEP)
def test_deep_nesting_is_refused_quickly(shape: str) -> None:
    data = _page(DEEP[shape](30_000)).encode()
    started = time.perf_counter()
    with pytest.raises(PageError, match=r"^page refused: its elements nest more than 5,000 deep"):
        parse_page(data)
    assert time.perf_counter() - started < 2.0


def test_nesting_within_the_bound_parses() -> None:
    body = "<div>" * 4_000 + "【経営課題1】 地域の課題<p>【戦略1-1 戦略】</p>" + "</div>" * 4_000
    policy = parse_page(_page(body).encode())
    assert [issue.code for issue in policy.issues] == ["1"]


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        ("<div><span><b>x</b></span></div>", 3),
        ("<p>a<p>b<p>c", 1),  # a <p> closes the open one
        ("<ul><li>a<li>b<li>c</ul>", 2),
        ("<table><tr><td>a<td>b<tr><td>c</table>", 3),  # no tbody seen: 3, not 4
        ("<div><span></div><div>", 2),  # </div> closes the span inside it
        ("<span><div></span></div>" * 3, 4),  # </span> stops at the div: 3 spans + a div
        ("<div></b>" * 3, 3),  # no b open: ignored
        ("<br><img><hr><input>", 0),
        ("<!-- <div><div> --><script>'<div><div>'</script>", 1),
    ],
)
def test_nesting_depth_follows_the_tree_builder(body: str, depth: int) -> None:
    assert nesting.nesting_depth(body) == depth


@pytest.mark.parametrize(
    "body",
    [
        "<p>段落の文章" * 20_000,
        "<ul>" + "<li>項目" * 20_000 + "</ul>",
        "<table>" + "<tr><td>a<td>b" * 20_000 + "</table>",
        "<table>" + "<tr><td><font color=red>a</td></tr>" * 20_000 + "</table>",
    ],
)
def test_many_unclosed_but_shallow_tags_are_not_refused(body: str) -> None:
    assert nesting.nesting_depth(_page(body)) < 10 < nesting.MAX_DEPTH
    parse_page(_page(body).encode())


def test_deep_page_is_an_error_row_of_the_build(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    data = _page(DEEP["30,000 nested div"](30_000)).encode()
    path = store.store_version(raw, "kita", "1", data, "html")
    url = "https://www.city.osaka.lg.jp/kita/page/0000000001.html"
    record = RawRecord(
        url=url,
        fetched_at="2024-04-01T00:00:00Z",
        outcome="fetched",
        path=path,
        sha256=store.sha256_hex(data),
        ward_slug="kita",
    )
    store.append_manifest(raw, [record])
    result = run.run_build(raw, tmp_path / "out", tmp_path / "cache")
    row = result.tables["parse_report"].iloc[0]
    assert (row["path"], row["status"]) == (path, "error")
    assert row["messages"].startswith("page refused: its elements nest more than 5,000 deep")


# --- closing tags missing --------------------------------------------------------------


def _without(name: str, *tags: str) -> bytes:
    text = (PAGES / name).read_text(encoding="utf-8")
    for tag in tags:
        assert f"</{tag}>" in text
        text = text.replace(f"</{tag}>", "")
    return text.encode()


@pytest.mark.parametrize(
    ("name", "tags", "title", "codes"),
    # The issue codes as the fixture's expect.json lists them (read off the page by hand).
    [
        # </h1> and the </div> of #sub_h1_box gone: the h1 holds the rest of the page.
        ("r5_minato.html", ("h1", "div"), "令和5年度港区運営方針", ["1", "2", "3"]),
        ("003_89797b12dbd6aaef.html", ("h1", "div"), "令和4年度港区運営方針", list("123456")),
        # </title> gone: the rest of the page is the title's text.
        ("003_89797b12dbd6aaef.html", ("title",), "令和4年度港区運営方針", list("123456")),
        ("no_mol_contents.html", ("title",), "平成27年度浪速区運営方針", ["1", "2"]),
    ],
)
def test_ward_page_with_closing_tags_missing_parses(
    name: str, tags: tuple[str, ...], title: str, codes: list[str]
) -> None:
    intact = parse_page(PAGES / name)
    broken = parse_page(_without(name, *tags))
    assert broken.title == title == intact.title
    assert [issue.code for issue in broken.issues] == codes
    assert (broken.ward, broken.fiscal_year, broken.published) == (
        intact.ward,
        intact.fiscal_year,
        intact.published,
    )


def test_run_on_title_line_says_what_is_wrong() -> None:
    text = "令和4年度港区運営方針 " + "地域の課題について。" * 30 + "\n【経営課題1】 x\n"
    with pytest.raises(
        PageError, match=r"^no title line: the first line names 運営方針 but runs on"
    ):
        parse_page(text.encode())


def test_unrelated_page_message_is_unchanged() -> None:
    with pytest.raises(PageError, match=re.escape("not a 運営方針 page (it starts with")):
        parse_page(PAGES / "unrelated_page.html")


# --- a page's size: lines, amounts, nodes, warnings (issue 19, item 9) -----------------------


def _capture(body: str) -> bytes:
    return f"令和4年度北区運営方針\n重点的に取り組む主な経営課題\n{body}".encode()


HEAD = "【経営課題1】 地域\n【戦略1-1 戦略】\n【具体的取組1-1-1 取組】\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # Before: 10^6 amounts, a 10 MB capture, took 24 s and 1.7 GB to parse.
        (HEAD + "(1千円)\n" * 1_000_000, "more than 50,000 lines"),
        (HEAD + "(1千円)(2千円)\n" * 3_000, "more than 5,000 amounts"),
        (
            "".join(f"【具体的取組1-1-{i % 999 + 1} 取組】\n" for i in range(6_000)),
            "more than 5,000 経営課題/戦略/具体的取組",
        ),
    ],
)
def test_page_past_the_bounds_is_refused_quickly(body: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(PageError, match=f"^page refused: {message}"):
        parse_page(_capture(HEAD + body))
    assert time.perf_counter() - started < 3.0


def test_page_within_the_bounds_parses() -> None:
    policy = parse_page(_capture(HEAD + "(1千円)\n" * 4_000))
    (initiative,) = policy.issues[0].strategies[0].initiatives
    assert len(initiative.budgets) == 4_000


def test_warnings_are_bounded() -> None:
    body = "".join(f"経営課題{1000 + i} 見出し\n" for i in range(400))
    policy = parse_page(_capture(HEAD + body))
    assert len(policy.warnings) == 101
    assert policy.warnings[-1].startswith("… and ")


_BUILD_CHILD = """
import resource, sys
from pathlib import Path
from osaka_unei import store
from osaka_unei.models import RawRecord
from osaka_unei.publish import run
raw, data = Path(sys.argv[1]), Path(sys.argv[2]).read_bytes()
path = store.store_version(raw, "kita", "1", data, "txt")
store.append_manifest(raw, [RawRecord(
    url="https://www.city.osaka.lg.jp/kita/page/0000000001.html",
    fetched_at="2024-04-01T00:00:00Z", outcome="capture", source_kind="capture",
    path=path, sha256=store.sha256_hex(data), ward_slug="kita")])
result = run.run_build(raw, raw.parent / "out", raw.parent / "cache")
row = result.tables["parse_report"].iloc[0]
print(row["status"], row["messages"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_build_with_a_page_of_a_million_amounts_stays_small(tmp_path: Path) -> None:
    # Before: such a page cost the build 52-116 s and 2.3-2.6 GB.
    page = tmp_path / "page.txt"
    page.write_bytes(_capture(HEAD + "(1千円)\n" * 1_000_000))
    assert page.stat().st_size > 9_000_000
    done = subprocess.run(
        [sys.executable, "-c", _BUILD_CHILD, str(tmp_path / "raw"), str(page)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    status, megabytes = done.stdout.splitlines()
    assert status.startswith("error page refused: more than 50,000 lines")
    assert int(megabytes) < 1_000
