"""Shared test options and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# `make test-quick` (`-m "not slow"`) is the inner loop of parse and dataset changes, under
# 30 s: it leaves out the test files that start servers, notebooks or Chromium, build
# whole datasets or corpora, or inject faults (each takes seconds), and those of the other
# ends of the pipeline that a parse or dataset change seldom needs at once (the raw store
# and captures, untrusted inputs, the views, SQLite search, lineage evidence). `make test`
# runs everything. One test elsewhere may be marked `@pytest.mark.slow`.
SLOW_FILES = frozenset(
    {
        "test_adversarial.py",
        "test_bench.py",
        "test_capture.py",
        "test_cli_answers.py",
        "test_committed.py",
        "test_datasette.py",
        "test_db.py",
        "test_derive.py",
        "test_fetch.py",
        "test_hostile_server.py",
        "test_lineage_evidence.py",
        "test_notebooks.py",
        "test_one_truth.py",
        "test_publish.py",
        "test_refresh.py",
        "test_report.py",
        "test_report_browser.py",
        "test_store.py",
        "test_untrusted.py",
        "test_views.py",
    }
)

# Single tests of quick files that take seconds (file::function).
SLOW_TESTS = frozenset(
    {
        "test_page_limits.py::test_build_with_a_page_of_a_million_amounts_stays_small",
        "test_multiyear.py::test_bench_store_builds",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "originalname", item.name)
        if item.path.name in SLOW_FILES or f"{item.path.name}::{function}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite golden JSON files from the current parser (review the diff!).",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment must not carry test traffic anywhere."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
