"""Fetch ward 運営方針 pages politely into the raw store, and discover pages the registry lacks.

Politeness rules
- One allowed host: the city's, or the one ``--base-url`` names. Nothing else is fetched,
  and a redirect to another host is refused (recorded, never followed).
- One request at a time, and at least ``delay`` seconds from the end of one request to the
  start of the next, robots.txt and retries included. robots.txt ``Crawl-delay`` and
  ``Request-rate`` raise that delay, never lower it.
- robots.txt is obeyed (Protego). 4xx → allow all; 5xx, 429 or no answer → disallow all
  for the run (RFC 9309). A name lookup or connection failure on robots.txt means "no
  route": the run stops before anything is written.
- An honest User-Agent (``osaka-unei/0.1 (+project page)``); no cookies are ever kept.
- Timeouts, connection errors, 429 and 5xx are retried with exponential backoff, waiting
  at least what Retry-After asks; a 404 is recorded at once. Bodies over ``max_bytes``
  are refused. Requests are conditional (If-None-Match / If-Modified-Since).

Store layout (see store.py)
- ``{raw_dir}/{ward_slug}/{page_id}-{sha256[:16]}.html``: the body bytes as received (no
  charset decoding), one file per distinct version, written atomically, never replaced.
- ``{raw_dir}/manifest.jsonl``: one RawRecord per page attempt, appended as it happens.
  ``url`` is the page's registry (city) address, so a page keeps its identity whichever
  mirror served it; ``final_url`` is the address the bytes actually came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import hashlib
import io
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from protego import Protego
from selectolax.lexbor import LexborHTMLParser
from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result
from tenacity.stop import stop_after_attempt

from osaka_unei import store
from osaka_unei.extract import PageError, decode
from osaka_unei.models import RawRecord
from osaka_unei.parse import fiscal_year_from_title
from osaka_unei.store import DEFAULT_RAW_DIR
from osaka_unei.text import clean_line
from osaka_unei.wards import PAGE_PATH, WARD_SLUGS, page_address, ward_named_in_title

USER_AGENT = "osaka-unei/0.1 (+https://github.com/osaka-unei/osaka-unei)"
ROBOTS_AGENT = "osaka-unei"
SITE_HOST = "www.city.osaka.lg.jp"
SITE_ORIGIN = f"https://{SITE_HOST}"
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
REGISTRY_FIELDS = ("url", "ward", "ward_slug", "fiscal_year", "page_id")
OUTCOMES = ("fetched", "unchanged", "failed", "disallowed")

Outcome = Literal["fetched", "unchanged", "failed", "disallowed"]

_CATEGORY_PATH = re.compile(r"^/([a-z0-9_-]+)/category/[\d-]+\.html$")
_SAFE_PART = re.compile(r"^[a-z0-9_-]{1,64}$")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Retried: the request may well succeed later. Anything else is final at once.
_RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


# --- registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One registry row: a known page address and what is known about it."""

    url: str
    ward: str | None = None
    ward_slug: str | None = None
    fiscal_year: int | None = None
    page_id: str | None = None


def normalise_url(url: str) -> str:
    """Strip blanks and the fragment; older captures use http:// for the city's host."""
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme == "http" and parts.hostname == SITE_HOST else parts.scheme
    return urlunsplit((scheme, parts.netloc.lower(), parts.path, parts.query, ""))


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def load_registry(path: Path) -> list[Page]:
    """Registry rows in file order, one per address; only the ``url`` column is required."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "url" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no 'url' column")
        pages: dict[str, Page] = {}
        for row in reader:
            url = normalise_url(row.get("url") or "")
            if not url or url in pages:
                continue
            page_id = _int_or_none(row.get("page_id"))
            pages[url] = Page(
                url=url,
                ward=(row.get("ward") or "").strip() or None,
                ward_slug=(row.get("ward_slug") or "").strip() or None,
                fiscal_year=_int_or_none(row.get("fiscal_year")),
                page_id=str(page_id) if page_id is not None else None,
            )
    return list(pages.values())


def _registry_order(page: Page) -> tuple[str, int, int, str]:
    return (page.ward_slug or "~", page.fiscal_year or 0, int(page.page_id or 0), page.url)


def save_registry(path: Path, pages: Iterable[Page]) -> None:
    """Write the registry sorted by ward, year and page id, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REGISTRY_FIELDS)
    for page in sorted(pages, key=_registry_order):
        writer.writerow(
            [
                page.url,
                page.ward or "",
                page.ward_slug or "",
                page.fiscal_year or "",
                page.page_id or "",
            ]
        )
    store.write_atomic(path, buffer.getvalue().encode("utf-8"))


def select_pages(pages: Iterable[Page], wards: Sequence[str], years: Sequence[int]) -> list[Page]:
    """Pages of the given wards and years (an empty filter keeps everything)."""
    chosen = []
    for page in pages:
        slug = page.ward_slug or storage_key(page)[0]
        if wards and slug not in wards:
            continue
        if years and page.fiscal_year not in years:
            continue
        chosen.append(page)
    return chosen


def storage_key(page: Page) -> tuple[str, str]:
    """(ward_slug, page_id) naming the page's files: from the row, else the URL path, else
    'unknown' and a hash of the URL; never URL text, so no path can be smuggled in."""
    address = page_address(page.url)
    slug = page.ward_slug if page.ward_slug and _SAFE_PART.match(page.ward_slug) else None
    slug = slug or (address[0] if address else None) or "unknown"
    page_id = page.page_id if page.page_id and page.page_id.isdigit() else None
    if page_id is None and address:
        page_id = address[1]
    if page_id is None:
        page_id = hashlib.sha256(page.url.encode("utf-8")).hexdigest()[:12]
    return slug, page_id


# --- addresses --------------------------------------------------------------------------


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def rebase_url(url: str, base_url: str | None) -> str:
    """The address to request: ``base_url``'s scheme and host (and path prefix) + url's path."""
    if not base_url:
        return url
    base, parts = urlsplit(base_url), urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def canonical_url(url: str, base_url: str | None) -> str | None:
    """A link as a city address, or None when it leads off the allowed host(s)."""
    url = normalise_url(url)
    parts = urlsplit(url)
    if origin_of(url) == SITE_ORIGIN:
        return url
    if base_url:
        base = urlsplit(base_url)
        prefix = base.path.rstrip("/")
        same_origin = origin_of(url) == origin_of(base_url)
        if same_origin and parts.path.startswith(prefix + "/"):
            path = parts.path[len(prefix) :]
            return urlunsplit(("https", SITE_HOST, path, parts.query, ""))
    return None


# --- response metadata (pure) -----------------------------------------------------------


def parse_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, lower-cased; None if absent."""
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def conditional_headers(previous: RawRecord | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the stored version last seen."""
    headers: dict[str, str] = {}
    if previous is not None and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous is not None and previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


# --- polite client ----------------------------------------------------------------------


class Unreachable(Exception):
    """No route to the host (name lookup or connection failed on robots.txt)."""


class _TooLarge(Exception):
    def __init__(self, status: int, limit: int) -> None:
        super().__init__(f"response over {limit} bytes refused")
        self.status = status


@dataclass(frozen=True)
class _Raw:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What one GET came to, after retries and same-host redirects."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    disallowed: bool = False


def _lookup_error(host: str, port: int, timeout: float) -> str | None:
    """Why `host` does not resolve within `timeout`, or None. getaddrinfo ignores httpx's
    timeouts, so it runs in a daemon thread that may be abandoned."""
    result: list[str | None] = []

    def resolve() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            result.append(None)
        except OSError as exc:
            result.append(str(exc) or type(exc).__name__)

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        return f"name lookup took over {timeout:g} s"
    return result[0]


class PoliteClient:
    """A GET-only client for one origin that obeys robots.txt and spaces its requests."""

    def __init__(
        self,
        origin: str,
        *,
        delay: float = 1.0,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        max_bytes: int = MAX_BYTES,
        user_agent: str = USER_AGENT,
        trust_env: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.origin = origin_of(origin)
        parts = urlsplit(self.origin)
        self.host = parts.netloc
        self._hostname = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self.delay = delay
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._trust_env = trust_env
        self._sleep = sleep
        self._last: float | None = None
        self._robots: Protego | None = None
        # A jar whose policy accepts no domain: Set-Cookie is never stored nor sent back.
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            cookies=jar,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            trust_env=trust_env,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def on_host(self, url: str) -> bool:
        return origin_of(url) == self.origin

    # robots.txt

    def load_robots(self) -> Protego:
        """Fetch robots.txt once (it counts as a request); raises Unreachable if no route."""
        if self._robots is not None:
            return self._robots
        uses_proxy = self._trust_env and urllib.request.getproxies()
        if not uses_proxy:  # behind a proxy the proxy resolves names, not us
            problem = _lookup_error(self._hostname, self._port, self.connect_timeout)
            if problem:
                raise Unreachable(f"{self.host}: {problem}")
        answer = self._exchange(self.origin + "/robots.txt", {}, probe=True)
        status = answer.status or 0
        if answer.error is None and 200 <= status < 300 and answer.body is not None:
            robots = Protego.parse(answer.body.decode("utf-8", errors="replace"))
            self.delay = max(self.delay, _robots_delay(robots))
        elif answer.error is None and 400 <= status < 500 and status != 429:
            robots = Protego.parse("")  # no robots.txt: everything allowed
        else:
            robots = Protego.parse("User-agent: *\nDisallow: /\n")  # unreachable: nothing
        self._robots = robots
        return robots

    def allowed(self, url: str) -> bool:
        return self.load_robots().can_fetch(url, ROBOTS_AGENT)

    # requests

    def get(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        """GET within the rules: robots.txt, same-host redirects only, retries, size cap."""
        if not self.on_host(url):
            return Answer(url, url, error=f"not on the allowed host {self.host}")
        if not self.allowed(url):
            return Answer(url, url, disallowed=True, error="disallowed by robots.txt")
        return self._exchange(url, headers or {}, probe=False)

    def _exchange(self, url: str, headers: dict[str, str], *, probe: bool) -> Answer:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                raw = self._send(current, headers, probe=probe)
            except _TooLarge as exc:
                return Answer(url, current, status=exc.status, error=str(exc))
            except httpx.TimeoutException as exc:
                return Answer(url, current, error=f"timed out ({type(exc).__name__})")
            except httpx.HTTPError as exc:
                return Answer(url, current, error=f"{type(exc).__name__}: {exc}")
            location = raw.headers.get("location")
            if raw.status not in _REDIRECTS or not location:
                return Answer(url, current, raw.status, raw.headers, raw.body)
            target = urljoin(current, location)
            if not self.on_host(target):
                error = f"redirect to another host refused: {target}"
                return Answer(url, current, raw.status, raw.headers, error=error)
            if self._robots is not None and not self.allowed(target):
                error = f"redirect to a path robots.txt disallows: {target}"
                return Answer(url, current, raw.status, raw.headers, error=error, disallowed=True)
            current = target
        return Answer(url, current, error=f"more than {MAX_REDIRECTS} redirects")

    def _send(self, url: str, headers: dict[str, str], *, probe: bool) -> _Raw:
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1) | self._retry_after_too_long,
            retry=retry_if_exception_type(_RETRY_EXCEPTIONS) | retry_if_result(_retry_status),
            wait=self._wait,
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # last answer/error
            reraise=True,
        )
        return retrying(self._attempt, url, headers, probe)

    def _attempt(self, url: str, headers: dict[str, str], probe: bool) -> _Raw:
        self._throttle()
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return _Raw(
                    response.status_code,
                    {name.lower(): value for name, value in response.headers.items()},
                    self._read_capped(response),
                )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if probe:  # no route: say so rather than retry for minutes
                raise Unreachable(f"{self.host}: {exc or type(exc).__name__}") from exc
            raise
        finally:
            self._last = time.monotonic()

    def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _TooLarge(response.status_code, self.max_bytes)
        chunks, size = [], 0
        # iter_bytes undoes any Content-Encoding (gzip) but never decodes the charset.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge(response.status_code, self.max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    def _throttle(self) -> None:
        if self._last is not None:
            remaining = self._last + self.delay - time.monotonic()
            if remaining > 0:
                self._sleep(remaining)

    def _wait(self, state: RetryCallState) -> float:
        wait = min(self.max_backoff, self.backoff * 2 ** (state.attempt_number - 1))
        asked = _retry_after(state)
        return max(wait, asked) if asked is not None else wait

    def _retry_after_too_long(self, state: RetryCallState) -> bool:
        asked = _retry_after(state)
        return asked is not None and asked > self.max_retry_after


def _retry_status(raw: _Raw) -> bool:
    return raw.status == 429 or raw.status >= 500


def _retry_after(state: RetryCallState) -> float | None:
    outcome = state.outcome
    if outcome is None or outcome.failed:
        return None
    return parse_retry_after(outcome.result().headers.get("retry-after"))


def _robots_delay(robots: Protego) -> float:
    delay = float(robots.crawl_delay(ROBOTS_AGENT) or 0.0)
    rate = robots.request_rate(ROBOTS_AGENT)
    if rate is not None and rate.requests:
        delay = max(delay, rate.seconds / rate.requests)
    return delay


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
    from osaka_unei.extract import PageError

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


# --- discovery --------------------------------------------------------------------------

_LISTING_WORDS = ("策定経過", "過去", "一覧", "バックナンバー")


@dataclass(frozen=True)
class Link:
    url: str
    text: str


def decode_html(data: bytes, charset: str | None = None) -> str:
    """The parser's own decoding (HTTP charset, BOM, declaration, UTF-8, detection); an
    empty or undecodable page reads as no text, so discovery just finds no links in it."""
    try:
        return decode(data, charset)[0]
    except PageError:
        return ""


def extract_links(html: str, page_url: str) -> list[Link]:
    """Every <a href> as an absolute address (against <base href> when present) + its text."""
    tree = LexborHTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = urljoin(page_url, base_node.attributes.get("href") or "") if base_node else page_url
    links = []
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        links.append(Link(urljoin(base, href), clean_line(anchor.text(separator=" "))))
    return links


def page_title(html: str) -> str | None:
    """The page's h1 (#sub_h1_box h1), else its <title>."""
    tree = LexborHTMLParser(html)
    for selector in ("#sub_h1_box h1", "title"):
        node = tree.css_first(selector)
        if node is not None and (text := clean_line(node.text(separator=" "))):
            return text
    return None


def title_fiscal_year(title: str) -> int | None:
    """The fiscal year a title names (the parser's rule), or None."""
    try:
        return fiscal_year_from_title(clean_line(title))[0]
    except PageError:
        return None


def classify_text(text: str) -> Literal["policy", "listing", "other"] | None:
    """What a link text or a title says: a ward's 運営方針, a list of them (過去の…,
    策定経過), some other 運営方針 (a bureau's, or no ward named), or nothing relevant."""
    text = clean_line(text)
    if "運営方針" not in text:
        return None
    if any(word in text for word in _LISTING_WORDS):
        return "listing"
    return "policy" if ward_named_in_title(text) else "other"


def link_kind(url: str) -> Literal["page", "category"] | None:
    path = urlsplit(url).path
    if PAGE_PATH.match(path):
        return "page"
    if _CATEGORY_PATH.match(path):
        return "category"
    return None


def page_from_title(url: str, title: str) -> Page:
    """A registry row for a ward 運営方針 page found at `url` under `title`."""
    ward = ward_named_in_title(clean_line(title))
    address = page_address(url)
    return Page(
        url=url,
        ward=ward,
        ward_slug=WARD_SLUGS.get(ward or "") or (address[0] if address else None),
        fiscal_year=title_fiscal_year(title),
        page_id=address[1] if address else None,
    )


@dataclass
class Discovery:
    added: list[Page] = field(default_factory=list)
    read: int = 0  # pages looked at (stored or fetched)
    fetched: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"discover: {len(self.added)} added ({self.read} pages read, {self.fetched} fetched)"
        return "; ".join([text, *self.notes])


class _Reader:
    """Page HTML by city address: the stored latest version, else a polite fetch (bounded)."""

    def __init__(self, options: FetchOptions, max_fetches: int, result: Discovery) -> None:
        self._options = options
        self._stored = previous_versions(options.raw_dir)
        self._budget = max_fetches
        self._result = result
        self._client: PoliteClient | None = None
        self._offline = False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def read(self, url: str) -> str | None:
        record = self._stored.get(url)
        if record is not None and record.path:
            self._result.read += 1
            return decode_html((self._options.raw_dir / record.path).read_bytes(), record.charset)
        if self._offline:
            return None
        if self._budget <= 0:
            if "fetch limit reached" not in self._result.notes:
                self._result.notes.append("fetch limit reached")
            return None
        if self._client is None:
            self._client = self._options.client()
            try:
                self._client.load_robots()
            except Unreachable as exc:
                self._offline = True
                self._result.notes.append(f"unreachable ({exc}), used stored pages only")
                return None
        self._budget -= 1
        answer = self._client.get(rebase_url(url, self._options.base_url))
        if answer.error is not None or answer.body is None or answer.status != 200:
            return None
        self._result.read += 1
        self._result.fetched += 1
        return decode_html(answer.body, parse_charset(answer.headers.get("content-type")))


def discover(
    registry: Sequence[Page],
    options: FetchOptions,
    *,
    listings: Sequence[str] = (),
    max_fetches: int = 200,
) -> Discovery:
    """Ward 運営方針 pages linked from known pages (and listing pages one level deep) that
    the registry lacks. Nothing is written: the caller saves the registry."""
    result = Discovery()
    known = {page.url for page in registry}
    visited: set[str] = set()
    reader = _Reader(options, max_fetches, result)

    def add(page: Page) -> None:
        if page.url not in known:
            known.add(page.url)
            result.added.append(page)

    def visit(url: str, depth: int) -> None:
        if url in visited:
            return
        visited.add(url)
        html = reader.read(url)
        if html is None:
            return
        for link in extract_links(html, rebase_url(url, options.base_url)):
            consider(link, depth)

    def consider(link: Link, depth: int) -> None:
        url = canonical_url(link.url, options.base_url)
        kind = link_kind(url) if url else None
        if url is None or kind is None or url in known:
            return
        said = classify_text(link.text)
        if kind == "category":
            if said is not None and depth == 0:  # a listing of 運営方針: one level deep
                visit(url, depth + 1)
            return
        if said == "policy":
            add(page_from_title(url, link.text))
        elif said == "listing":
            if depth == 0:
                visit(url, depth + 1)
        elif said == "other" or (depth > 0 and "年度" in link.text):
            check_target(url, depth)  # on a listing, a bare "令和3年度" may be one

    def check_target(url: str, depth: int) -> None:
        # The link text does not say enough: the target's own title decides.
        if url in visited:
            return
        visited.add(url)
        html = reader.read(url)
        title = page_title(html) if html else None
        said = classify_text(title) if title else None
        if said == "policy" and title:
            add(page_from_title(url, title))
        elif said == "listing" and depth == 0 and html:
            for link in extract_links(html, rebase_url(url, options.base_url)):
                consider(link, depth + 1)

    try:
        for page in registry:
            visit(page.url, 0)
        for url in listings:
            if canonical := canonical_url(url, options.base_url):
                visit(canonical, 0)
    finally:
        reader.close()
    return result
