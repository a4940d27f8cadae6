"""A fetch run: every selected registry page through the polite client into the raw store.

Store layout (see store.py)
- ``{raw_dir}/{ward_slug}/{page_id}-{sha256[:16]}.html``: the body bytes as received (no
  charset decoding), one file per distinct version, written atomically, never replaced.
- ``{raw_dir}/manifest.jsonl``: one RawRecord per page attempt, appended as it happens.
  ``url`` is the page's registry (city) address, so a page keeps its identity whichever
  mirror served it; ``final_url`` is the address the bytes actually came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from osaka_unei import store
from osaka_unei.fetch.client import (
    MAX_BYTES,
    Answer,
    PoliteClient,
    Unreachable,
    conditional_headers,
    parse_charset,
)
from osaka_unei.fetch.registry import Page, storage_key
from osaka_unei.fetch.urls import SITE_ORIGIN, rebase_url
from osaka_unei.models import RawRecord
from osaka_unei.store import DEFAULT_RAW_DIR

OUTCOMES = ("fetched", "unchanged", "failed", "disallowed")
Outcome = Literal["fetched", "unchanged", "failed", "disallowed"]

# --- fetch run --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    raw_dir: Path = DEFAULT_RAW_DIR
    base_url: str | None = None
    delay: float = 1.0
    timeout: float = 20.0
    connect_timeout: float = 5.0
    retries: int = 4
    backoff: float = 1.0
    max_bytes: int = MAX_BYTES
    max_consecutive_failures: int = 5
    trust_env: bool = True

    def client(self) -> PoliteClient:
        return PoliteClient(
            self.base_url or SITE_ORIGIN,
            delay=self.delay,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            retries=self.retries,
            backoff=self.backoff,
            max_bytes=self.max_bytes,
            trust_env=self.trust_env,
        )


@dataclass
class FetchSummary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    records: list[RawRecord] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early, if it did

    def line(self) -> str:
        return ", ".join(f"{name} {self.counts[name]}" for name in OUTCOMES)

    @property
    def all_failed(self) -> bool:
        return bool(self.records) and self.counts["failed"] == len(self.records)


def previous_versions(raw_dir: Path) -> dict[str, RawRecord]:
    """For each page url, the last stored version seen, if its file is still there."""
    latest = store.latest_versions(store.read_manifest(raw_dir))
    return {
        url: record
        for url, record in latest.items()
        if record.path and (raw_dir / record.path).is_file()
    }


def record_for(
    page: Page,
    answer: Answer,
    fetched_at: dt.datetime,
    outcome: Outcome,
    *,
    path: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    previous: RawRecord | None = None,
    message: str | None = None,
) -> RawRecord:
    """The manifest line for one attempt; a 304 carries the stored version's validators."""
    slug, page_id = storage_key(page)
    headers = answer.headers
    content_type = headers.get("content-type")
    etag = headers.get("etag") or (previous.etag if previous and outcome == "unchanged" else None)
    modified = headers.get("last-modified")
    if modified is None and previous and outcome == "unchanged":
        modified = previous.last_modified
    return RawRecord(
        url=page.url,
        final_url=answer.final_url,
        status=answer.status,
        fetched_at=fetched_at,
        content_type=content_type,
        charset=parse_charset(content_type),
        etag=etag,
        last_modified=modified,
        sha256=sha256,
        size=size,
        outcome=outcome,
        path=path,
        ward_slug=slug,
        fiscal_year=page.fiscal_year,
        page_id=page_id,
        source_kind="fetched",
        message=message if message is not None else answer.error,
    )


def fetch_page(
    client: PoliteClient,
    page: Page,
    raw_dir: Path,
    base_url: str | None = None,
    previous: RawRecord | None = None,
) -> RawRecord:
    """Fetch one page, store a new version if it is one, and return its manifest line."""
    address = rebase_url(page.url, base_url)
    answer = client.get(address, conditional_headers(previous))
    now = dt.datetime.now(dt.UTC)
    if answer.disallowed:
        return record_for(page, answer, now, "disallowed")
    if answer.error is not None or answer.status is None:
        return record_for(page, answer, now, "failed")
    if answer.status == 304:
        if previous is None:
            return record_for(page, answer, now, "failed", message="304 with no stored version")
        return record_for(
            page,
            answer,
            now,
            "unchanged",
            path=previous.path,
            sha256=previous.sha256,
            size=previous.size,
            previous=previous,
        )
    if not 200 <= answer.status < 300 or answer.body is None:
        return record_for(page, answer, now, "failed", message=f"HTTP {answer.status}")
    body = answer.body
    sha = store.sha256_hex(body)
    slug, page_id = storage_key(page)
    stored = (raw_dir / store.raw_relpath(slug, page_id, sha, "html")).is_file()
    path = store.store_version(raw_dir, slug, page_id, body, "html")
    outcome: Outcome = "unchanged" if stored else "fetched"
    return record_for(page, answer, now, outcome, path=path, sha256=sha, size=len(body))


def fetch_one(url: str, *, delay: float = 1.0) -> tuple[bytes, str | None, str]:
    """One page by address, within the same rules (robots.txt, same host, size cap), for
    `osaka-unei parse URL`: (body, HTTP charset, final address). PageError if it fails."""
    from osaka_unei.errors import PageError

    try:
        with PoliteClient(url, delay=delay, retries=2) as client:
            answer = client.get(url)
    except Unreachable as exc:
        raise PageError(f"cannot reach {exc}") from exc
    if answer.error is not None or answer.body is None:
        raise PageError(f"cannot fetch {url}: {answer.error or 'no body'}")
    if answer.status != 200:
        raise PageError(f"cannot fetch {url}: HTTP {answer.status}")
    return answer.body, parse_charset(answer.headers.get("content-type")), answer.final_url


def run_fetch(
    pages: Sequence[Page],
    options: FetchOptions,
    on_record: Callable[[RawRecord], None] | None = None,
) -> FetchSummary:
    """Fetch pages one by one, appending each attempt to the manifest as it ends.

    Raises Unreachable (before writing anything) when the host cannot be reached.
    """
    raw_dir = options.raw_dir
    previous = previous_versions(raw_dir)
    summary = FetchSummary()
    consecutive = 0
    with options.client() as client:
        client.load_robots()
        for page in pages:
            record = fetch_page(client, page, raw_dir, options.base_url, previous.get(page.url))
            store.append_manifest(raw_dir, [record])
            if record.path:
                previous[page.url] = record
            summary.records.append(record)
            summary.counts[record.outcome] += 1
            if on_record is not None:
                on_record(record)
            consecutive = consecutive + 1 if record.outcome == "failed" else 0
            if consecutive >= options.max_consecutive_failures:
                summary.stopped = f"stopped after {consecutive} consecutive failures"
                break
    return summary


def run_fetch_with_progress(pages: Sequence[Page], options: FetchOptions) -> FetchSummary:
    """run_fetch with a rich progress bar on stderr (cleared when done)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("fetch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    console = Console(stderr=True)
    # Not a terminal (make in CI, a pipe): no bar at all, just the summary line.
    quiet = not console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("", total=len(pages))

        def advance(record: RawRecord) -> None:
            progress.update(task, advance=1, description=f"{record.outcome} {record.url}")

        return run_fetch(pages, options, on_record=advance)
