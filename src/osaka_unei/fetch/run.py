"""A fetch run: every selected registry page through the polite client into the raw store.

Store layout (see store.py)
- ``{raw_dir}/{ward_slug}/{page_id}-{sha256[:16]}.html``: the body bytes as received (no
  charset decoding), one file per distinct version, written atomically, never replaced.
- ``{raw_dir}/manifest.jsonl``: one RawRecord per page attempt, appended as it happens.
  ``url`` is the page's registry (city) address, so a page keeps its identity whichever
  mirror served it; ``final_url`` is the address the bytes actually came from.

A registry row that is not a city address or cannot name a safe file is a ``failed``
record ("bad registry row: …") and is never requested; the run goes on. A body cut short
is an ``incomplete`` record (sha256 and size of what came, no file) and never the latest
version. Pages the refresh policy calls settled (refresh.py) are not requested at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from osaka_unei import store
from osaka_unei.calendar import fiscal_year_of, fiscal_year_problem
from osaka_unei.errors import BadInputError, PageError
from osaka_unei.fetch.client import (
    DEADLINE,
    MAX_BYTES,
    PAGE_BUDGET,
    Answer,
    PoliteClient,
    Unreachable,
    conditional_headers,
    parse_charset,
)
from osaka_unei.fetch.refresh import (
    MAX_AGE_DAYS,
    is_draft_page,
    pages_to_check,
)
from osaka_unei.fetch.registry import Page, storage_key
from osaka_unei.fetch.urls import (
    SITE_ORIGIN,
    address_problem,
    base_url_problem,
    origin_of,
    rebase_url,
    request_address,
    without_userinfo,
)
from osaka_unei.models import RawRecord
from osaka_unei.settings import DEFAULTS
from osaka_unei.store import DEFAULT_RAW_DIR

OUTCOMES = ("fetched", "unchanged", "failed", "incomplete", "disallowed")
Outcome = Literal["fetched", "unchanged", "failed", "incomplete", "disallowed"]
BAD_ROW = "bad registry row"

# --- fetch run --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    raw_dir: Path = DEFAULT_RAW_DIR
    base_url: str | None = None
    delay: float = DEFAULTS.delay
    timeout: float = DEFAULTS.timeout
    connect_timeout: float = DEFAULTS.connect_timeout
    retries: int = DEFAULTS.retries
    backoff: float = DEFAULTS.backoff
    max_bytes: int = MAX_BYTES
    deadline: float = DEADLINE  # seconds for one request, headers and body
    page_budget: float = PAGE_BUDGET  # seconds for one page, retries included
    max_consecutive_failures: int = DEFAULTS.max_consecutive_failures
    trust_env: bool = True
    # refresh policy (refresh.py): settled pages are skipped unless check_all
    check_all: bool = False
    max_age_days: int = MAX_AGE_DAYS
    today: dt.date | None = None  # None: the date the run starts (UTC)

    def __post_init__(self) -> None:
        if self.base_url is not None and (problem := base_url_problem(self.base_url)):
            raise BadInputError(problem)  # credentials would be written into the manifest

    def client(self) -> PoliteClient:
        return PoliteClient(
            self.base_url or SITE_ORIGIN,
            delay=self.delay,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            retries=self.retries,
            backoff=self.backoff,
            max_bytes=self.max_bytes,
            deadline=self.deadline,
            page_budget=self.page_budget,
            trust_env=self.trust_env,
        )


@dataclass
class FetchSummary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    records: list[RawRecord] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early, if it did
    settled: int = 0  # pages the refresh policy skipped

    def line(self) -> str:
        counts = ", ".join(f"{name} {self.counts[name]}" for name in OUTCOMES)
        return f"{counts}, settled {self.settled} (not re-checked)"

    @property
    def all_failed(self) -> bool:
        failed = self.counts["failed"] + self.counts["incomplete"]
        return bool(self.records) and failed == len(self.records)


def previous_versions(
    raw_dir: Path, records: Sequence[RawRecord] | None = None
) -> dict[str, RawRecord]:
    """For each page url, the last complete stored version seen, if its file is there."""
    if records is None:
        records = store.read_manifest(raw_dir)
    latest = store.latest_versions(records)
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
        final_url=without_userinfo(answer.final_url),
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


def row_problem(page: Page) -> str | None:
    """Why a registry row cannot be fetched (never requested), or None: it must be a city
    address and name a safe file (slug and page id of at most 64 plain characters)."""
    if origin_of(page.url) != SITE_ORIGIN:
        return f"not an address on {SITE_ORIGIN}/"
    if problem := address_problem(page.url):
        return problem
    if page.fiscal_year is not None and (problem := fiscal_year_problem(page.fiscal_year)):
        return problem
    slug, page_id = storage_key(page)
    try:
        store.raw_relpath(slug, page_id, "0" * 64, "html")
    except ValueError as exc:
        return str(exc)
    return None


def bad_row_record(page: Page, problem: str, fetched_at: dt.datetime) -> RawRecord:
    """The manifest line for a registry row that was never requested (a year out of range
    is not copied into the manifest)."""
    if page.fiscal_year is not None and fiscal_year_problem(page.fiscal_year):
        page = replace(page, fiscal_year=None)
    return record_for(
        page, Answer(page.url, page.url), fetched_at, "failed", message=f"{BAD_ROW}: {problem}"
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
    if answer.incomplete is not None:  # recorded, never stored: not a version of the page
        body = answer.body
        return record_for(
            page, answer, now, "incomplete", sha256=store.sha256_hex(body), size=len(body),
            message=answer.incomplete,
        )  # fmt: skip
    body = answer.body
    sha = store.sha256_hex(body)
    slug, page_id = storage_key(page)
    stored = (raw_dir / store.raw_relpath(slug, page_id, sha, "html")).is_file()
    path = store.store_version(raw_dir, slug, page_id, body, "html")
    outcome: Outcome = "unchanged" if stored else "fetched"
    return record_for(page, answer, now, outcome, path=path, sha256=sha, size=len(body))


def fetch_one(
    url: str,
    *,
    base_url: str | None = None,
    delay: float = DEFAULTS.delay,
    deadline: float = DEADLINE,
    page_budget: float = PAGE_BUDGET,
    trust_env: bool = True,
) -> tuple[bytes, str | None, str]:
    """One page by address, within the same rules (one host, robots.txt, size cap,
    deadline), for `osaka-unei parse URL`: (body, HTTP charset, final address).

    Only a city address, or one on the `base_url` mirror, is requested; anything else
    raises PageError before any connection. No message repeats what the server sent."""
    if base_url is not None and (problem := base_url_problem(base_url)):
        raise PageError(problem)
    address = request_address(url, base_url)
    if address is None:
        raise PageError(f"not an address on {SITE_ORIGIN}/ (nor on --base-url): {url}")
    origin = base_url or SITE_ORIGIN
    try:
        with PoliteClient(
            origin, delay=delay, retries=2, deadline=deadline, page_budget=page_budget,
            trust_env=trust_env,
        ) as client:  # fmt: skip
            answer = client.get(address)
    except Unreachable as exc:
        raise PageError(f"cannot reach {exc}") from exc
    if answer.error is not None or answer.body is None:
        raise PageError(f"cannot fetch {address}: {answer.error or 'no body'}")
    if answer.status != 200:
        raise PageError(f"cannot fetch {address}: HTTP {answer.status}")
    if answer.incomplete is not None:
        raise PageError(f"cannot fetch {address}: {answer.incomplete}")
    return answer.body, parse_charset(answer.headers.get("content-type")), answer.final_url


def run_fetch(
    pages: Sequence[Page],
    options: FetchOptions,
    on_record: Callable[[RawRecord], None] | None = None,
) -> FetchSummary:
    """Fetch pages one by one, appending each attempt to the manifest as it ends.

    Pages the refresh policy calls settled are skipped (counted in ``summary.settled``).
    Raises Unreachable (before writing anything) when the host cannot be reached.
    """
    raw_dir = options.raw_dir
    records = store.read_manifest(raw_dir)
    previous = previous_versions(raw_dir, records)
    today = options.today or dt.datetime.now(dt.UTC).date()
    to_check, settled = pages_to_check(
        pages, records, today, options.max_age_days, options.check_all,
        drafts=() if options.check_all else stored_drafts(raw_dir, pages, previous, today),
    )  # fmt: skip
    summary = FetchSummary(settled=len(settled))
    if not to_check:
        return summary  # nothing to ask the site: not even robots.txt
    consecutive = 0
    with options.client() as client:
        client.load_robots()
        for page in to_check:
            problem = row_problem(page)
            if problem is not None:
                record = bad_row_record(page, problem, dt.datetime.now(dt.UTC))
            else:
                known = previous.get(page.url)
                record = fetch_page(client, page, raw_dir, options.base_url, known)
            store.append_manifest(raw_dir, [record])
            if record.path:
                previous[page.url] = record
            summary.records.append(record)
            summary.counts[record.outcome] += 1
            if on_record is not None:
                on_record(record)
            if problem is not None:
                continue  # a bad row says nothing about the site: no streak either way
            consecutive = consecutive + 1 if record.outcome in ("failed", "incomplete") else 0
            if consecutive >= options.max_consecutive_failures:
                summary.stopped = f"stopped after {consecutive} consecutive failures"
                break
    return summary


def stored_drafts(
    raw_dir: Path, pages: Sequence[Page], latest: dict[str, RawRecord], today: dt.date
) -> set[str]:
    """Urls of pages whose stored latest version is a draft ((案), (素案)). Read only where
    it can matter: pages of a closed fiscal year with a stored version."""
    closed_before = fiscal_year_of(today) - 1
    drafts = set()
    for page in pages:
        record = latest.get(page.url)
        if page.fiscal_year is None or page.fiscal_year >= closed_before:
            continue
        if record is None or not record.path:
            continue
        try:
            data = (raw_dir / record.path).read_bytes()
        except OSError:
            continue
        if is_draft_page(data, record.charset):
            drafts.add(page.url)
    return drafts


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
