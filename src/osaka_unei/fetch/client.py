"""The polite HTTP client: one host, robots.txt, delays, retries, size limits.

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
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result
from tenacity.stop import stop_after_attempt

from osaka_unei.fetch.urls import origin_of
from osaka_unei.models import RawRecord

USER_AGENT = "osaka-unei/0.1 (+https://github.com/osaka-unei/osaka-unei)"
ROBOTS_AGENT = "osaka-unei"
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Retried: the request may well succeed later. Anything else is final at once.
_RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

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
