"""The fetch settings, declared once: each one's default, command-line option and help.

A shared module (not in fetch/), so that the CLI reads it without loading the fetch stage.

The polite client (fetch/client.py), a fetch run (fetch/run.py: FetchOptions), the refresh
policy (fetch/refresh.py) and the `fetch` / `discover` commands (cli.py) take their defaults from
``DEFAULTS``; the CLI builds its options from ``SETTINGS`` (option name, help, hidden),
so a setting's help text is written here and nowhere else.

To add a setting: a field of ``FetchSettings`` with its default and ``_meta(option, help)``;
then use ``DEFAULTS.name`` where it is read, and ``_setting("name")`` in cli.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from osaka_unei.store import MAX_PAGE_BYTES  # one page-size bound: the fetcher's, the parser's


def _meta(option: str, help: str, *, hidden: bool = False) -> Any:
    return {"option": option, "help": help, "hidden": hidden}


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How politely and how boundedly pages are fetched (every value in seconds unless said)."""

    delay: float = field(
        default=1.0, metadata=_meta("--delay", "Seconds between two requests (at least).")
    )
    max_age_days: int = field(
        default=30,
        metadata=_meta("--max-age-days", "Re-check a settled page checked longer ago."),
    )
    deadline: float = field(
        default=30.0,
        metadata=_meta("--deadline", "Seconds one request may take, headers and body."),
    )
    page_budget: float = field(
        default=120.0,
        metadata=_meta("--page-budget", "Seconds one page may take, retries included."),
    )
    timeout: float = field(
        default=20.0,
        metadata=_meta("--timeout", "Seconds a read may wait for the next bytes.", hidden=True),
    )
    connect_timeout: float = field(
        default=5.0,
        metadata=_meta("--connect-timeout", "Seconds a connection may take.", hidden=True),
    )
    retries: int = field(
        default=4,
        metadata=_meta(
            "--retries", "Retries of a timeout, 429 or 5xx answer (per page).", hidden=True
        ),
    )
    backoff: float = field(
        default=1.0,
        metadata=_meta(
            "--backoff", "Seconds before the first retry (doubling each time).", hidden=True
        ),
    )
    max_bytes: int = field(
        default=MAX_PAGE_BYTES,
        metadata=_meta("--max-bytes", "Bytes a body may have, decoded.", hidden=True),
    )
    max_consecutive_failures: int = field(
        default=5,
        metadata=_meta(
            "--max-failures", "Stop the run after this many failures in a row.", hidden=True
        ),
    )


DEFAULTS = FetchSettings()


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # the field of FetchSettings (and of FetchOptions)
    option: str  # the command-line option
    help: str
    hidden: bool
    default: float | int


SETTINGS: dict[str, Setting] = {
    f.name: Setting(
        f.name,
        f.metadata["option"],
        f.metadata["help"],
        f.metadata["hidden"],
        getattr(DEFAULTS, f.name),
    )
    for f in dataclasses.fields(FetchSettings)
}
