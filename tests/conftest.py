"""Shared test options and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Test files that start servers or Chromium, build whole datasets or inject faults: each
# takes seconds. `make test-quick` (`-m "not slow"`, the inner loop of parse and dataset
# changes) leaves them out; `make test` runs everything. One test elsewhere may be marked
# `@pytest.mark.slow` on its own.
SLOW_FILES = frozenset(
    {
        "test_adversarial.py",
        "test_bench.py",
        "test_cli_answers.py",
        "test_committed.py",
        "test_datasette.py",
        "test_derive.py",
        "test_fetch.py",
        "test_hostile_server.py",
        "test_notebooks.py",
        "test_publish.py",
        "test_refresh.py",
        "test_report.py",
        "test_report_browser.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
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
