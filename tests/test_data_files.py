"""Column specs, generic words and SDGs goal names are data (issue 20): each file is
checked here against what the code expects of it."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import get_args

import pytest

from osaka_unei.analysis import changes, lineage, themes
from osaka_unei.dataset import tables
from osaka_unei.dataset.tables import COLUMNS_FILE, read_columns, table_spec
from osaka_unei.errors import CuratedFileError
from osaka_unei.models import LEVELS, BudgetKind
from osaka_unei.parse import variants
from osaka_unei.publish.catalog import PUBLISHED_TABLES
from osaka_unei.report.coverage import COVERAGE, STATUSES

COLUMNS_TEXT = resources.files("osaka_unei.dataset").joinpath(COLUMNS_FILE).read_text("utf-8")


# --- columns.toml ------------------------------------------------------------------------


def test_every_published_table_is_in_the_columns_file() -> None:
    specs = read_columns(COLUMNS_TEXT).tables
    for spec in PUBLISHED_TABLES:
        assert spec.name in specs
        assert spec.names == specs[spec.name].names
    assert tuple(specs[name] for name in tables.TABLE_NAMES) == tables.TABLES


def test_every_shared_column_and_group_is_used() -> None:
    data = tomllib.loads(COLUMNS_TEXT)
    used = {ref for entry in data["tables"].values() for ref in entry["columns"]}
    used |= {ref for refs in data["groups"].values() for ref in refs}
    assert set(data["columns"]) <= used
    assert {f"*{group}" for group in data["groups"]} <= used


def test_enums_written_in_the_file_match_the_code() -> None:
    assert table_spec("budgets").column("kind").enum == get_args(BudgetKind)
    assert table_spec("budgets").column("level").enum == LEVELS
    assert table_spec("lineage_candidates").column("level").enum == LEVELS
    assert tables.NODE_COLUMNS[1].enum == LEVELS == lineage.LEVELS == themes.LEVELS
    assert lineage.LINEAGE.column("method").enum == lineage.METHODS
    assert themes.THEMES.column("source").enum == themes.SOURCES
    assert changes.CHANGES.column("change").enum == changes.CHANGE_KINDS
    assert changes.CHANGES.column("level").enum == changes.LEVELS
    assert changes.CHANGES.column("comparison").enum == changes.COMPARISONS
    assert COVERAGE.column("status").enum == STATUSES


def test_the_theme_enum_is_the_codebooks() -> None:
    assert table_spec("themes").column("theme").enum is None  # not written twice
    assert themes.THEMES.column("theme").enum == themes.THEME_IDS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"issue_code",\n', '"no_such_column",\n'), "no column 'no_such_column'"),
        (('kind = "integer"', 'kind = "int"'), "kind 'int'"),
        (('key = ["policy_id", "issue_position"]', 'key = ["nope"]'), "key"),
        (('ja = "経営課題の数"', 'ja = "経営課題の数"\nfoo = 1'), "unknown fields"),
    ],
)
def test_a_broken_columns_file_says_where(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in COLUMNS_TEXT
    with pytest.raises(CuratedFileError, match=message):
        read_columns(COLUMNS_TEXT.replace(old, new, 1))


# --- generic words (lineage) --------------------------------------------------------------


def test_generic_words_are_data_and_each_example_holds() -> None:
    text = resources.files("osaka_unei.analysis").joinpath("generic_words.toml").read_text()
    entries = tomllib.loads(text)["words"]
    words = [entry["word"] for entry in entries]
    assert len(set(words)) == len(words)
    assert sorted(lineage.GENERIC_WORDS) == sorted(words)
    assert [len(w) for w in lineage.GENERIC_WORDS] == sorted(
        (len(w) for w in words), reverse=True
    )  # longest first: まちづくり before づくり
    for entry in entries:
        assert entry["word"] in entry["example"]
        core = lineage.title_core(lineage.normalize_title(entry["example"]))
        assert core == entry["core"], entry


# --- SDGs goal names (parse) --------------------------------------------------------------


def test_sdg_goal_names_are_data_for_all_17_goals() -> None:
    text = resources.files("osaka_unei.parse").joinpath("sdg_goals.toml").read_text()
    goals = tomllib.loads(text)["goals"]
    assert sorted(int(number) for number in goals) == list(range(1, 18))
    assert {int(number): name for number, name in goals.items()} == variants.SDG_GOALS
    assert variants.SDG_GOALS[11] == "住み続けられるまちづくりを"
    assert all(name and name == name.strip() for name in variants.SDG_GOALS.values())
