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
