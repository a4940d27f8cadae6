"""Golden files: every fixture page has `{name}.golden.json` beside it with the whole parse.

A fixture without its golden file fails the run. Regenerate with
`.venv/bin/python -m pytest tests/test_golden.py --update-golden` and review the diff.
Pages that must be refused have a golden file holding the error instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osaka_unei.parse import PageError, parse_page

from .conftest import FIXTURES

PAGE_SUFFIXES = {".txt", ".html", ".htm"}
FIXTURE_PAGES = sorted(
    path
    for folder in ("seeds", "pages")
    for path in (FIXTURES / folder).glob("*")
    if path.suffix in PAGE_SUFFIXES
)
# Source fields differ between a capture and the HTML of the same page by construction.
SOURCE_FIELDS = {"source_format", "source_sha256"}


def golden_path(page: Path) -> Path:
    return page.with_name(page.name + ".golden.json")


def parse_result(page: Path) -> dict[str, object]:
    try:
        return parse_page(page).model_dump(mode="json")
    except PageError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def test_fixtures_exist() -> None:
    names = {page.name for page in FIXTURE_PAGES}
    assert len([n for n in names if n.endswith(".txt")]) >= 5
    assert len([n for n in names if n.endswith(".html")]) >= 5


@pytest.mark.parametrize("page", FIXTURE_PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_matches_golden(page: Path, update_golden: bool) -> None:
    result = parse_result(page)
    golden = golden_path(page)
    if update_golden:
        golden.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert golden.exists(), f"missing golden file {golden.name}: write it and review it"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert result == expected


def _without_source(result: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in result.items() if key not in SOURCE_FIELDS}


SEED_PAIRS = [
    (seed, FIXTURES / "pages" / seed.with_suffix(".html").name)
    for seed in sorted((FIXTURES / "seeds").glob("*.txt"))
]


@pytest.mark.parametrize("capture,html", SEED_PAIRS, ids=lambda p: p.name)
def test_capture_and_html_give_equal_json(capture: Path, html: Path) -> None:
    assert html.exists(), f"no HTML fixture for seed {capture.name}"
    from_capture = _without_source(parse_result(capture))
    from_html = _without_source(parse_result(html))
    assert from_capture == from_html
