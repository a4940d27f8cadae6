"""The benchmark's baselines do the work they are named for (bench/baselines.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from osaka_unei import parse_page
from osaka_unei.parse.extract import extract
from osaka_unei.parse.forms import FORMS

from .conftest import FIXTURES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from baselines import bs4_lines, lexbor_floor, required_steps

PAGES = sorted(
    path
    for path in (FIXTURES / "pages").glob("*.html")
    if path.stem not in ("bureau_page", "unrelated_page")
)


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.stem)
def test_required_steps_validate_the_policy_that_parse_page_gives(path: Path) -> None:
    data = path.read_bytes()
    policy = parse_page(data)
    readings, _, validated = required_steps(data, policy.model_dump())
    assert validated == policy
    # One reading per line it found, at least one per line parse_page's extraction finds
    # (it keeps bullets and inline elements as they are, so it never finds fewer).
    assert len(readings) >= len(extract(data).lines)
    assert FORMS.none in {at for at, _ in readings}  # plain text lines are read too


def test_required_steps_refused_page_validates_nothing() -> None:
    data = (FIXTURES / "pages" / "bureau_page.html").read_bytes()
    assert required_steps(data, None)[2] is None


def test_floor_and_bs4_baselines_read_the_title_and_body() -> None:
    data = (FIXTURES / "pages" / "r5_minato.html").read_bytes()
    policy = parse_page(data)
    assert policy.basic_policy is not None
    assert policy.basic_policy.split("\n")[0][:10] in lexbor_floor(data).replace("\u3000", " ")
    lines = [text for text, _ in bs4_lines(data)]
    assert lines[0] == policy.title


def test_build_corpus_gives_each_page_its_versions_in_ward_and_year_order() -> None:
    from corpus import load_sources, make_build_corpus

    from osaka_unei.wards import WARD_SLUGS

    pages = make_build_corpus(load_sources(), 30)
    # 4 versions a page: pages 0-6 complete, the 8th has 2; wards in turn, all in 2013.
    assert [page.version for page in pages[:5]] == [0, 1, 2, 3, 0]
    assert len({page.url for page in pages}) == 8
    assert [page.ward for page in pages[::4]] == list(WARD_SLUGS)[:8]
    assert {page.fiscal_year for page in pages} == {2013}
    assert len({page.data for page in pages}) == 30  # every version differs from the others


def test_whole_build_bench_times_the_phases_and_a_noop_rebuild() -> None:
    from build_bench import TOP_PHASES, measure_build
    from corpus import load_sources, make_build_corpus

    pages = make_build_corpus(load_sources(), 20)
    figures = measure_build(pages, report=False)
    build = figures["build"]
    assert build["exit_code"] == 0, build.get("log_tail")
    assert (build["parsed"], build["cached"]) == (20, 0)
    assert build["rows"]["policies"] == 5  # 20 versions, 4 a page
    assert build["rows"]["versions"] == 20
    assert set(TOP_PHASES) <= set(build["phases"])
    assert build["phases"]["parse"] > 0 and build["phases"]["derive"] > 0
    assert "derive.lineage" in build["phases"] and "publish.database" in build["phases"]
    assert build["search_index"]["rows"] == build["rows"]["lineage"]  # one row a node
    assert build["peak_rss_mb"] > 50
    noop = figures["noop_rebuild"]
    assert (noop["parsed"], noop["cached"], noop["written"]) == (0, 20, [])
    assert "report" not in figures


def test_parse_cache_written_without_fsync_treats_a_cut_entry_as_a_miss(tmp_path: Path) -> None:
    from osaka_unei.publish.cache import ParseCache

    cache = ParseCache(tmp_path, force=False)
    data = (FIXTURES / "pages" / "r5_minato.html").read_bytes()
    policy = parse_page(data, url="https://example.invalid/a.html")
    cache.put("a" * 64, policy)
    cache.put("b" * 64, "not a ward policy page")
    assert cache.get("a" * 64, "https://example.invalid/a.html") == policy
    assert cache.get("b" * 64, None) == "not a ward policy page"
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
    # What a crash after the rename but before the data reached the disk can leave:
    for path in tmp_path.iterdir():
        path.write_bytes(path.read_bytes()[:0])
    assert cache.get("a" * 64, "https://example.invalid/a.html") is None
    assert cache.get("b" * 64, None) is None
