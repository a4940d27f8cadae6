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
  at least what Retry-After asks; a 404 is recorded at once. Requests are conditional
  (If-None-Match / If-Modified-Since).

Limits (whatever the server sends)
- Bodies are decoded here, one raw chunk at a time and at most 1 MiB of output per step,
  and counted raw and decoded: past ``max_bytes`` of either the response is refused, so
  memory stays near ``max_bytes`` even for a gzip bomb. At most one content coding (gzip,
  deflate); ``gzip, gzip`` or an unknown coding is refused in one line.
- Every request has a deadline covering headers and body (``deadline``): httpx's timeouts
  are per read, so a server trickling a byte a second would never trip them; a timer shuts
  the connection's socket down at the deadline instead. Retries stay within one time
  budget per page (``page_budget``).
- A body cut short (fewer bytes than its Content-Length, a compressed stream that never
  ends, or, without a length, an HTML document without its ``</html>``) is an answer
  marked ``incomplete``, never a good one.
- No error message repeats what a response said (a protocol error is named, not quoted).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import re
import socket
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result
from tenacity.stop import stop_after_attempt, stop_base

from osaka_unei import store
from osaka_unei.errors import SiteError
from osaka_unei.fetch.urls import origin_of
from osaka_unei.models import RawRecord
from osaka_unei.settings import DEFAULTS

USER_AGENT = "osaka-unei/0.1 (+https://github.com/osaka-unei/osaka-unei)"
ROBOTS_AGENT = "osaka-unei"
MAX_BYTES = store.MAX_PAGE_BYTES  # 10 MB (the default of settings.max_bytes)
MAX_REDIRECTS = 5
DEADLINE = DEFAULTS.deadline  # seconds for one request, headers and body
PAGE_BUDGET = DEFAULTS.page_budget  # seconds for one page, retries and their waits included
ACCEPT_ENCODING = "gzip, deflate"  # the codings BodyReader undoes, nothing else
_STEP = 1024 * 1024  # decoded bytes per inflate step: a bomb never expands further at once
_HTML_OPEN = re.compile(rb"<html[\s>]", re.IGNORECASE)
_HTML_CLOSE = re.compile(rb"</html\s*>", re.IGNORECASE)
# httpcore trace events that hand over a new network stream (TLS replaces the socket).
_SOCKET_EVENTS = frozenset(
    {
        "connection.connect_tcp.complete",
        "connection.start_tls.complete",
        "proxy.start_tls.complete",  # TLS to the site through an HTTP proxy's tunnel
    }
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

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


def printable(text: str, limit: int = 40) -> str:
    """A header value fit for a one-line message: printable ASCII only, shortened."""
    kept = "".join(char for char in text if " " <= char <= "~")
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def content_coding(header: str | None) -> str:
    """The response's one content coding ('' for none). Layered codings (``gzip, gzip``)
    and codings this client never asked for are refused: each layer multiplies a bomb."""
    codings = [part.strip().lower() for part in (header or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    named = printable(", ".join(codings))
    if len(codings) > 1:
        raise Refused(f"more than one content encoding refused ({named})")
    coding = codings[0] if codings else ""
    if coding not in ("", "gzip", "x-gzip", "deflate"):
        raise Refused(f"unsupported content encoding refused ({named})")
    return "gzip" if coding == "x-gzip" else coding


def html_cut_short(body: bytes) -> bool:
    """An HTML document (``<html`` near its start) whose closing ``</html>`` never came."""
    return bool(_HTML_OPEN.search(body[:8192])) and not _HTML_CLOSE.search(body)


class Refused(SiteError):
    """A response refused for good (too large, an unknown coding); one line, no retry."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class BodyReader:
    """One response body as its raw chunks arrive: decoded (at most one gzip or deflate
    layer, several gzip members allowed) and counted, raw and decoded alike, so that no
    more than ``limit`` bytes (+ one step) are ever held, whatever the ratio."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.raw_size = 0
        self.size = 0
        self._parts: list[bytes] = []
        self._inflater = self._new_inflater() if coding else None
        self._fresh = True  # nothing inflated yet: deflate may still turn out raw

    def _new_inflater(self, raw_deflate: bool = False) -> zlib._Decompress:
        if self.coding == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        self.raw_size += len(data)
        if self.raw_size > self.limit:
            raise Refused(f"response over {self.limit} bytes refused")
        if self._inflater is None:
            self._keep(data)
        else:
            self._inflate(data)

    def _keep(self, data: bytes) -> None:
        if data:
            self.size += len(data)
            if self.size > self.limit:
                raise Refused(f"response over {self.limit} bytes refused")
            self._parts.append(data)

    def _inflate(self, data: bytes) -> None:
        # Ends: each turn either grows `size` by a full step (the cap ends that), consumes
        # all input, or starts a next gzip member on strictly less input.
        while self._inflater is not None:
            try:
                out = self._inflater.decompress(data, _STEP)
            except zlib.error as exc:
                if self.coding == "deflate" and self._fresh:  # a raw deflate stream
                    self._fresh = False
                    self._inflater = self._new_inflater(raw_deflate=True)
                    continue
                raise Refused("corrupt compressed body refused") from exc
            self._fresh = False
            self._keep(out)
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if not rest or self.coding != "gzip":
                    return  # bytes after a deflate stream are ignored, as zlib does
                self._inflater = self._new_inflater()  # another gzip member
                data = rest
                continue
            data = self._inflater.unconsumed_tail
            if not data and len(out) < _STEP:
                return

    def body(self) -> bytes:
        return b"".join(self._parts)

    def cut_short(self) -> bool:
        """A compressed stream that never reached its end."""
        return self._inflater is not None and not self._inflater.eof and self.raw_size > 0


# --- polite client ----------------------------------------------------------------------


class Unreachable(SiteError):
    """No route to the host (name lookup or connection failed on robots.txt)."""


class _DeadlineExceeded(SiteError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"deadline exceeded: no complete answer within {seconds:.3g} s")


class _OutOfTime(SiteError):
    """The page's time budget is spent before another attempt could start."""


@dataclass(frozen=True)
class _Raw:
    status: int
    headers: dict[str, str]
    body: bytes
    incomplete: str | None = None  # why the body is cut short, if it is


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
    incomplete: str | None = None  # the body came cut short (it is the part received)


# Retried: the request may well succeed later. Anything else is final at once.
_RETRY_EXCEPTIONS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    _DeadlineExceeded,
)


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
        delay: float = DEFAULTS.delay,
        timeout: float = DEFAULTS.timeout,
        connect_timeout: float = DEFAULTS.connect_timeout,
        retries: int = DEFAULTS.retries,
        backoff: float = DEFAULTS.backoff,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        max_bytes: int = MAX_BYTES,
        deadline: float = DEADLINE,
        page_budget: float = PAGE_BUDGET,
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
        self.deadline = deadline
        self.page_budget = page_budget
        self._budget_ends = 0.0
        # The socket of the one pooled connection (set by httpcore's trace events), so the
        # deadline timer can shut it down; `_expired` is set once the timer has fired.
        self._socket: socket.socket | None = None
        self._socket_lock = threading.Lock()
        self._expired = threading.Event()
        self.user_agent = user_agent
        self._trust_env = trust_env
        self._sleep = sleep
        self._last: float | None = None
        self._robots: Protego | None = None
        # A jar whose policy accepts no domain: Set-Cookie is never stored nor sent back.
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            cookies=jar,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # One connection: the socket the trace saw last is the one in use.
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
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
        self._budget_ends = time.monotonic() + self.page_budget  # redirects included
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                raw = self._send(current, headers, probe=probe)
            except Refused as exc:
                return Answer(url, current, status=exc.status, error=str(exc))
            except (_DeadlineExceeded, _OutOfTime) as exc:
                return Answer(url, current, error=str(exc))
            except httpx.TimeoutException as exc:
                return Answer(url, current, error=f"timed out ({type(exc).__name__})")
            except httpx.HTTPError as exc:
                return Answer(url, current, error=_describe(exc))
            location = raw.headers.get("location")
            if raw.status not in _REDIRECTS or not location:
                return Answer(
                    url, current, raw.status, raw.headers, raw.body, incomplete=raw.incomplete
                )
            target = urljoin(current, location)
            if not self.on_host(target):
                host = printable(urlsplit(target).hostname or "?", 60)
                error = f"redirect to another host refused ({host})"
                return Answer(url, current, raw.status, raw.headers, error=error)
            if self._robots is not None and not self.allowed(target):
                error = f"redirect to a path robots.txt disallows: {target}"
                return Answer(url, current, raw.status, raw.headers, error=error, disallowed=True)
            current = target
        return Answer(url, current, error=f"more than {MAX_REDIRECTS} redirects")

    def _send(self, url: str, headers: dict[str, str], *, probe: bool) -> _Raw:
        stop: stop_base = stop_after_attempt(self.retries + 1)
        retrying = Retrying(
            stop=stop | self._retry_after_too_long | self._over_budget,  # type: ignore[operator]  # tenacity takes any callable as a stop; its annotations say stop_base
            retry=retry_if_exception_type(_RETRY_EXCEPTIONS) | retry_if_result(_retry_answer),
            wait=self._wait,
            sleep=self._sleep,
            # the last answer or error
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]  # tenacity sets outcome before this call
            reraise=True,
        )
        return retrying(self._attempt, url, headers, probe)

    def _attempt(self, url: str, headers: dict[str, str], probe: bool) -> _Raw:
        self._throttle()
        seconds = min(self.deadline, self._budget_ends - time.monotonic())
        if seconds <= 0.01:
            raise _OutOfTime(f"page time budget of {self.page_budget:.3g} s spent")
        self._expired.clear()
        timer = threading.Timer(seconds, self._expire)
        timer.daemon = True
        timer.start()
        try:
            extensions = {"trace": self._trace}
            with self._client.stream("GET", url, headers=headers, extensions=extensions) as r:
                raw = self._receive(r, seconds)
            if self._expired.is_set():  # the socket was shut: what came may be cut short
                raise _DeadlineExceeded(seconds)
            return raw
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if self._expired.is_set():
                raise _DeadlineExceeded(seconds) from exc
            if probe:  # no route: say so rather than retry for minutes
                raise Unreachable(f"{self.host}: {exc or type(exc).__name__}") from exc
            raise
        except httpx.HTTPError as exc:
            if self._expired.is_set():
                raise _DeadlineExceeded(seconds) from exc
            raise
        finally:
            timer.cancel()
            self._last = time.monotonic()

    def _receive(self, response: httpx.Response, seconds: float) -> _Raw:
        """Status, headers and the body, decoded and capped as it streams (see BodyReader)."""
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        declared_text = headers.get("content-length", "").strip()
        declared = int(declared_text) if declared_text.isdigit() else None
        if declared is not None and declared > self.max_bytes:
            raise Refused(f"response over {self.max_bytes} bytes refused", status)
        try:
            reader = BodyReader(content_coding(headers.get("content-encoding")), self.max_bytes)
        except Refused as exc:
            raise Refused(str(exc), status) from exc
        incomplete = None
        try:
            # iter_raw: the bytes as sent; BodyReader undoes the content coding, boundedly.
            for chunk in response.iter_raw():
                if self._expired.is_set():
                    raise _DeadlineExceeded(seconds)
                reader.feed(chunk)
        except Refused as exc:
            raise Refused(str(exc), status) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if self._expired.is_set():
                raise _DeadlineExceeded(seconds) from exc
            # The connection ended before the body did (short of Content-Length, or a
            # chunked body without its last chunk): keep what came, marked as cut.
            of = f" of {declared}" if declared is not None else ""
            incomplete = f"body cut short ({reader.raw_size}{of} bytes)"
        body = reader.body()
        if incomplete is None and reader.cut_short():
            incomplete = "body cut short (the compressed stream never ended)"
        if incomplete is None and declared is None and html_cut_short(body):
            incomplete = "body cut short (no </html> at the end)"
        return _Raw(status, headers, body, incomplete)

    # the deadline

    def _trace(self, event: str, info: dict[str, object]) -> None:
        """httpcore's trace: remember the socket of each new connection (and its TLS)."""
        if event not in _SOCKET_EVENTS:
            return
        stream = info.get("return_value")
        get_extra_info = getattr(stream, "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        with self._socket_lock:
            self._socket = sock if isinstance(sock, socket.socket) else None
        if self._expired.is_set():  # the deadline passed while connecting
            self._shut_socket()

    def _expire(self) -> None:
        self._expired.set()
        self._shut_socket()

    def _shut_socket(self) -> None:
        # socket.socket.shutdown, not SSLSocket's (which drops its SSL state under the
        # reading thread): a blocked read then ends at once with end-of-file.
        with self._socket_lock:
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to wake
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

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

    def _over_budget(self, state: RetryCallState) -> bool:
        """No retry whose wait (and the delay) would end past the page's time budget."""
        upcoming = max(state.upcoming_sleep or 0.0, self.delay)
        return time.monotonic() + upcoming >= self._budget_ends


def _retry_answer(raw: _Raw) -> bool:
    return raw.status == 429 or raw.status >= 500 or raw.incomplete is not None


def _describe(exc: httpx.HTTPError) -> str:
    """A one-line reason that never quotes the response (h11 quotes bad status lines)."""
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return f"malformed or interrupted response ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


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
