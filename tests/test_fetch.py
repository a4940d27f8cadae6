"""The fetcher against a real HTTP server on 127.0.0.1 (no internet, no mocks of httpx).

The server records every request (path, headers, arrival time), so the tests assert on what
the site saw as well as on the files and the manifest.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from osaka_unei import store
from osaka_unei.cli import app
from osaka_unei.fetch import (
    SITE_ORIGIN,
    USER_AGENT,
    FetchOptions,
    FetchSummary,
    Page,
    canonical_url,
    classify_text,
    decode_html,
    discover,
    extract_links,
    load_registry,
    page_title,
    parse_charset,
    parse_retry_after,
    rebase_url,
    run_fetch,
    save_registry,
    select_pages,
    storage_key,
    title_fiscal_year,
)
from osaka_unei.models import RawRecord

from .conftest import FIXTURES

HERE = FIXTURES / "fetch"
REPO = Path(__file__).resolve().parents[1]
DELAY = 0.05
SLACK = 0.002  # clock granularity between the client's and the server's monotonic reads
LAST_MODIFIED = "Mon, 01 Apr 2024 00:00:00 GMT"
SJIS = (HERE / "chuo-sjis.html").read_bytes()


def city(path: str) -> str:
    return SITE_ORIGIN + path


# --- the test site --------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


Route = Callable[["Handler", int], None]  # (handler, how many times this path was asked)


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    port: int = 0
    minato_version: int = 1

    def paths(self) -> list[str]:
        return [request.path for request in self.seen]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def times(self, path: str) -> list[float]:
        return [request.at for request in self.seen if request.path == path]


class Handler(BaseHTTPRequestHandler):
    site: Site  # set on a subclass per server

    def do_GET(self) -> None:
        at = time.monotonic()
        with self.site.lock:
            self.site.seen.append(
                Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, at)
            )
            number = self.site.paths().count(self.path)
        route = self.site.routes.get(self.path)
        try:
            if route is None:
                self.send(404, b"not found")
            else:
                route(self, number)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=UTF-8", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers and "X-No-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def fixture(name: str) -> bytes:
    return (HERE / name).read_bytes()


def robots(handler: Handler, _: int) -> None:
    handler.send(200, fixture("robots.txt"), {"Content-Type": "text/plain"})


def kita(handler: Handler, _: int) -> None:
    # ETag / Last-Modified, a 304 when they match, and a cookie that must never come back.
    etag = '"kita-1"'
    if handler.headers.get("If-None-Match") == etag:
        handler.send(304, headers={"ETag": etag})
        return
    headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Set-Cookie": "session=abc; Path=/"}
    handler.send(200, fixture("kita.html"), headers)


def flaky(handler: Handler, number: int) -> None:
    if number == 1:
        handler.send(503, b"busy", {"Retry-After": "1"})
    elif number == 2:
        handler.send(503, b"busy")
    else:
        handler.send(200, fixture("kita.html"))


def slow(handler: Handler, _: int) -> None:
    time.sleep(1.0)
    handler.send(200, fixture("kita.html"))


def shift_jis(handler: Handler, _: int) -> None:
    handler.send(200, SJIS, {"Content-Type": "text/html"})  # no charset in the header


def off_host_redirect(handler: Handler, _: int) -> None:
    location = f"http://localhost:{handler.site.port}/nishi/page/0000000006.html"
    handler.send(302, b"", {"Location": location})


def changing(handler: Handler, _: int) -> None:
    version = handler.site.minato_version
    body = fixture(f"minato-v{version}.html")
    headers = {"ETag": f'"minato-{version}"'}
    if handler.headers.get("If-None-Match") == headers["ETag"]:
        handler.send(304, headers=headers)
    else:
        handler.send(200, body, headers)


def huge(handler: Handler, _: int) -> None:
    handler.send(200, b"x" * 50_000)


def huge_unannounced(handler: Handler, _: int) -> None:
    handler.send(200, b"y" * 50_000, {"X-No-Length": "1"})  # HTTP/1.0: ends at close


PAGES: dict[str, Route] = {
    "/robots.txt": robots,
    "/kita/page/0000000001.html": kita,
    "/miyakojima/page/0000000002.html": flaky,
    "/konohana/page/0000000004.html": slow,
    "/chuo/page/0000000005.html": shift_jis,
    "/nishi/page/0000000006.html": off_host_redirect,
    "/minato/page/0000000007.html": changing,
    "/secret/page/0000000008.html": kita,
    "/taisho/page/0000000009.html": huge,
    "/tennoji/page/0000000010.html": huge_unannounced,
    # /fukushima/page/0000000003.html is not routed: a 404
}


# A proxy from the environment must not carry test traffic anywhere (conftest).
pytestmark = pytest.mark.usefixtures("no_proxies")


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serve(dict(PAGES))


def serve(routes: dict[str, Route]) -> Iterator[Site]:
    state = Site(routes=routes)
    handler = type("BoundHandler", (Handler,), {"site": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def options(site: Site, raw_dir: Path, **changes: object) -> FetchOptions:
    values: dict[str, object] = {
        "raw_dir": raw_dir,
        "base_url": site.url,
        "delay": DELAY,
        "timeout": 0.5,
        "connect_timeout": 0.5,
        "retries": 2,
        "backoff": 0.01,
        "max_bytes": 20_000,
        "trust_env": False,
    }
    values.update(changes)
    return FetchOptions(**values)  # type: ignore[arg-type]


def pages(*paths: str) -> list[Page]:
    return [Page(url=city(path)) for path in paths]


def by_url(summary: FetchSummary) -> dict[str, RawRecord]:
    return {record.url: record for record in summary.records}


def assert_spaced(site: Site, delay: float = DELAY) -> None:
    times = [request.at for request in site.seen]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps, "expected several requests"
    assert min(gaps) >= delay - SLACK, gaps


def snapshot(raw_dir: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(path.relative_to(raw_dir)): (
            path.read_bytes(),
            path.stat().st_mtime_ns,
            path.stat().st_ino,
        )
        for path in sorted(raw_dir.rglob("*.html"))
    }


# --- one run over every scenario ------------------------------------------------------

ALL = (
    "/kita/page/0000000001.html",
    "/miyakojima/page/0000000002.html",
    "/fukushima/page/0000000003.html",
    "/konohana/page/0000000004.html",
    "/chuo/page/0000000005.html",
    "/nishi/page/0000000006.html",
    "/minato/page/0000000007.html",
    "/secret/page/0000000008.html",
    "/taisho/page/0000000009.html",
    "/tennoji/page/0000000010.html",
)


@dataclass
class Run:
    site: Site
    raw_dir: Path
    summary: FetchSummary
    records: dict[str, RawRecord]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    raw_dir = tmp_path_factory.mktemp("full") / "raw"
    for state in serve(dict(PAGES)):
        summary = run_fetch(pages(*ALL), options(state, raw_dir))
        yield Run(state, raw_dir, summary, by_url(summary))


def test_summary_counts_every_outcome(full_run: Run) -> None:
    assert full_run.summary.counts == {
        "fetched": 4,  # kita, miyakojima, chuo, minato
        "unchanged": 0,
        "failed": 5,  # 404, timeout, redirect, two over the size cap
        "incomplete": 0,
        "disallowed": 1,
    }
    assert full_run.summary.line() == (
        "fetched 4, unchanged 0, failed 5, incomplete 0, disallowed 1, settled 0 (not re-checked)"
    )
    assert full_run.summary.stopped is None


def test_robots_first_and_disallowed_path_never_requested(full_run: Run) -> None:
    assert full_run.site.paths()[0] == "/robots.txt"
    assert full_run.site.count("/robots.txt") == 1
    assert full_run.site.count("/secret/page/0000000008.html") == 0
    record = full_run.records[city("/secret/page/0000000008.html")]
    assert (record.outcome, record.path, record.status) == ("disallowed", None, None)


def test_every_request_is_honest_and_cookieless(full_run: Run) -> None:
    for request in full_run.site.seen:
        assert request.headers["user-agent"] == USER_AGENT
        assert "cookie" not in request.headers
    assert USER_AGENT.startswith("osaka-unei/0.1 (+https://")


def test_requests_are_spaced_by_the_delay(full_run: Run) -> None:
    assert_spaced(full_run.site)


def test_503_twice_then_200_honours_retry_after(full_run: Run) -> None:
    path = "/miyakojima/page/0000000002.html"
    first, second, third = full_run.site.times(path)
    assert second - first >= 1.0 - SLACK  # Retry-After: 1
    assert third - second >= DELAY - SLACK
    record = full_run.records[city(path)]
    assert (record.outcome, record.status) == ("fetched", 200)


def test_404_is_recorded_not_retried(full_run: Run) -> None:
    path = "/fukushima/page/0000000003.html"
    assert full_run.site.count(path) == 1
    record = full_run.records[city(path)]
    assert (record.outcome, record.status, record.path) == ("failed", 404, None)
    assert record.message == "HTTP 404"


def test_slow_page_times_out_after_retries(full_run: Run) -> None:
    path = "/konohana/page/0000000004.html"
    assert full_run.site.count(path) == 3  # retries=2
    record = full_run.records[city(path)]
    assert (record.outcome, record.status, record.path) == ("failed", None, None)
    assert "timed out" in (record.message or "")


def test_shift_jis_page_stored_byte_identical(full_run: Run) -> None:
    record = full_run.records[city("/chuo/page/0000000005.html")]
    assert record.outcome == "fetched"
    assert (record.content_type, record.charset) == ("text/html", None)
    assert record.path is not None
    assert (full_run.raw_dir / record.path).read_bytes() == SJIS
    assert record.sha256 == store.sha256_hex(SJIS) and record.size == len(SJIS)
    assert "中央区運営方針" in decode_html(SJIS, record.charset)


def test_redirect_to_another_host_is_refused(full_run: Run) -> None:
    path = "/nishi/page/0000000006.html"
    assert full_run.site.count(path) == 1  # the localhost address was never followed
    assert all(not r.headers["host"].startswith("localhost") for r in full_run.site.seen)
    record = full_run.records[city(path)]
    assert (record.outcome, record.status, record.path) == ("failed", 302, None)
    assert "another host refused" in (record.message or "")


@pytest.mark.parametrize("path", ["/taisho/page/0000000009.html", "/tennoji/page/0000000010.html"])
def test_response_over_the_size_cap_is_refused(full_run: Run, path: str) -> None:
    record = full_run.records[city(path)]
    assert (record.outcome, record.status, record.path) == ("failed", 200, None)
    assert "over 20000 bytes" in (record.message or "")
    assert not (full_run.raw_dir / path.split("/")[1]).exists()


def test_files_and_manifest(full_run: Run) -> None:
    raw_dir = full_run.raw_dir
    lines = store.read_manifest(raw_dir)
    assert [r.url for r in lines] == [city(path) for path in ALL]
    kita = full_run.records[city("/kita/page/0000000001.html")]
    assert kita.path == f"kita/1-{store.sha256_hex(fixture('kita.html'))[:16]}.html"
    assert (raw_dir / kita.path).read_bytes() == fixture("kita.html")
    assert kita.final_url == f"{full_run.site.url}/kita/page/0000000001.html"
    assert (kita.status, kita.etag, kita.last_modified) == (200, '"kita-1"', LAST_MODIFIED)
    assert (kita.content_type, kita.charset) == ("text/html; charset=UTF-8", "utf-8")
    assert (kita.ward_slug, kita.page_id, kita.source_kind) == ("kita", "1", "fetched")
    assert kita.fetched_at.utcoffset() == dt.timedelta(0)
    stored = sorted(str(p.relative_to(raw_dir)) for p in raw_dir.rglob("*") if p.is_file())
    assert stored == sorted(
        ["manifest.jsonl", *(r.path for r in full_run.summary.records if r.path)]
    )
    assert not list(raw_dir.rglob("*.tmp"))


# --- runs that change the store ---------------------------------------------------------


def test_second_run_sends_validators_and_adds_no_file(site: Site, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    chosen = pages("/kita/page/0000000001.html", "/chuo/page/0000000005.html")
    first = by_url(run_fetch(chosen, options(site, raw_dir)))
    before = snapshot(raw_dir)
    site.seen.clear()
    second = by_url(run_fetch(chosen, options(site, raw_dir)))

    kita_request = next(r for r in site.seen if r.path == "/kita/page/0000000001.html")
    assert kita_request.headers["if-none-match"] == '"kita-1"'
    assert kita_request.headers["if-modified-since"] == LAST_MODIFIED
    kita = second[city("/kita/page/0000000001.html")]
    assert (kita.outcome, kita.status) == ("unchanged", 304)
    assert kita.path == first[city("/kita/page/0000000001.html")].path
    assert (kita.sha256, kita.etag) == (first[kita.url].sha256, '"kita-1"')
    # No validators on the Shift_JIS page: a 200 whose bytes are already stored.
    chuo = second[city("/chuo/page/0000000005.html")]
    assert (chuo.outcome, chuo.status, chuo.path) == ("unchanged", 200, first[chuo.url].path)
    assert snapshot(raw_dir) == before
    assert len(store.read_manifest(raw_dir)) == 4
    latest = store.latest_versions(store.read_manifest(raw_dir))
    assert latest[kita.url].fetched_at == kita.fetched_at  # seen again, same file


def test_changed_page_keeps_both_versions(site: Site, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    chosen = pages("/minato/page/0000000007.html")
    first = run_fetch(chosen, options(site, raw_dir)).records[0]
    before = snapshot(raw_dir)
    site.minato_version = 2
    second = run_fetch(chosen, options(site, raw_dir)).records[0]

    assert (first.outcome, second.outcome) == ("fetched", "fetched")
    assert first.path != second.path
    assert first.path and second.path
    assert (raw_dir / first.path).read_bytes() == fixture("minato-v1.html")
    assert (raw_dir / second.path).read_bytes() == fixture("minato-v2.html")
    after = snapshot(raw_dir)
    assert {k: v for k, v in after.items() if k in before} == before  # untouched
    assert len(after) == 2
    minato_requests = [r for r in site.seen if r.path.startswith("/minato/")]
    assert minato_requests[1].headers["if-none-match"] == '"minato-1"'
    assert store.latest_versions(store.read_manifest(raw_dir))[first.url].path == second.path


def test_rerun_never_deletes_or_overwrites(site: Site, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    chosen = pages(*(p for p in ALL if "konohana" not in p and "miyakojima" not in p))
    run_fetch(chosen, options(site, raw_dir))
    before = snapshot(raw_dir)
    manifest_before = (raw_dir / store.MANIFEST_NAME).read_text(encoding="utf-8")
    site.minato_version = 2
    run_fetch(chosen, options(site, raw_dir))
    after = snapshot(raw_dir)
    assert {k: v for k, v in after.items() if k in before} == before
    assert len(after) == len(before) + 1
    manifest_after = (raw_dir / store.MANIFEST_NAME).read_text(encoding="utf-8")
    assert manifest_after.startswith(manifest_before)  # append only


def test_robots_5xx_disallows_everything(tmp_path: Path) -> None:
    def broken(handler: Handler, _: int) -> None:
        handler.send(500, b"oops")

    for state in serve({**PAGES, "/robots.txt": broken}):
        summary = run_fetch(pages("/kita/page/0000000001.html"), options(state, tmp_path / "raw"))
        assert state.paths() == ["/robots.txt"] * 3  # retried, then given up
        assert summary.records[0].outcome == "disallowed"


def test_robots_404_allows_everything(tmp_path: Path) -> None:
    routes = {k: v for k, v in PAGES.items() if k != "/robots.txt"}
    for state in serve(routes):
        summary = run_fetch(pages("/secret/page/0000000008.html"), options(state, tmp_path / "raw"))
        assert state.paths() == ["/robots.txt", "/secret/page/0000000008.html"]
        assert summary.records[0].outcome == "fetched"


def test_robots_crawl_delay_raises_the_delay(tmp_path: Path) -> None:
    def slow_robots(handler: Handler, _: int) -> None:
        handler.send(200, b"User-agent: *\nCrawl-delay: 0.3\n", {"Content-Type": "text/plain"})

    for state in serve({**PAGES, "/robots.txt": slow_robots}):
        chosen = pages("/kita/page/0000000001.html", "/chuo/page/0000000005.html")
        run_fetch(chosen, options(state, tmp_path / "raw"))
        assert len(state.seen) == 3
        assert_spaced(state, 0.3)


def test_robots_request_rate_raises_the_delay(tmp_path: Path) -> None:
    def rate(handler: Handler, _: int) -> None:
        handler.send(200, b"User-agent: *\nRequest-rate: 2/1s\n", {"Content-Type": "text/plain"})

    for state in serve({"/robots.txt": rate}):
        with options(state, tmp_path).client() as client:
            client.load_robots()
            assert client.delay == 0.5


def test_retry_after_beyond_the_limit_gives_up_at_once(tmp_path: Path) -> None:
    def closed(handler: Handler, _: int) -> None:
        handler.send(503, b"maintenance", {"Retry-After": "3600"})

    path = "/kita/page/0000000001.html"
    for state in serve({**PAGES, path: closed}):
        record = run_fetch(pages(path), options(state, tmp_path / "raw")).records[0]
        assert state.count(path) == 1
        assert (record.outcome, record.status, record.message) == ("failed", 503, "HTTP 503")


def test_consecutive_failures_stop_the_run(site: Site, tmp_path: Path) -> None:
    missing = [f"/kita/page/00000009{n:02d}.html" for n in range(6)]
    summary = run_fetch(
        pages(*missing), options(site, tmp_path / "raw", max_consecutive_failures=3)
    )
    assert summary.stopped == "stopped after 3 consecutive failures"
    assert len(summary.records) == 3
    assert len(store.read_manifest(tmp_path / "raw")) == 3
    assert site.count(missing[3]) == 0


def test_address_off_the_allowed_host_is_never_requested(site: Site) -> None:
    with options(site, Path("unused")).client() as client:
        answer = client.get(f"http://localhost:{site.port}/kita/page/0000000001.html")
    assert answer.error == f"not on the allowed host 127.0.0.1:{site.port}"
    assert site.seen == []


def test_registry_address_is_rebased_onto_the_mirror(site: Site, tmp_path: Path) -> None:
    # Issue 12: only a city address is a registry row; another host's is a bad row, never
    # requested (before, it was rebased onto the mirror and fetched).
    chosen = [
        Page(url="https://example.com/kita/page/0000000001.html"),
        Page(url=city("/kita/page/0000000001.html")),
    ]
    summary = run_fetch(chosen, options(site, tmp_path / "raw"))
    bad, good = summary.records
    assert (bad.outcome, bad.url) == ("failed", chosen[0].url)
    assert bad.message == f"bad registry row: not an address on {SITE_ORIGIN}/"
    assert good.outcome == "fetched"
    assert good.url == chosen[1].url  # the registry address identifies the page
    assert good.final_url == site.url + "/kita/page/0000000001.html"
    assert site.count("/kita/page/0000000001.html") == 1


# --- command line -------------------------------------------------------------------------

FAST = ["--delay", str(DELAY), "--timeout", "0.5", "--connect-timeout", "0.5", "--retries", "1",
        "--backoff", "0.01"]  # fmt: skip


def write_sources(path: Path, *paths: str, full: bool = False) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if full:
            writer.writerow(["url", "ward", "ward_slug", "fiscal_year", "page_id"])
            writer.writerows([city(p), "", "", "2024", ""] for p in paths)
        else:
            writer.writerow(["url"])
            writer.writerows([city(p)] for p in paths)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_fetch_prints_one_summary_line(site: Site, tmp_path: Path) -> None:
    sources = write_sources(
        tmp_path / "s.csv", "/kita/page/0000000001.html", "/fukushima/page/0000000003.html"
    )
    raw_dir = tmp_path / "raw"
    code, out, _ = invoke(
        "fetch", "--sources", str(sources), "--base-url", site.url, "--raw-dir", str(raw_dir), *FAST
    )
    assert code == 0
    assert out.splitlines() == [
        "fetched 1, unchanged 0, failed 1, incomplete 0, disallowed 0, settled 0 (not re-checked)"
    ]
    assert len(store.read_manifest(raw_dir)) == 2


def test_cli_filters_by_ward_and_year(site: Site, tmp_path: Path) -> None:
    sources = write_sources(
        tmp_path / "s.csv", "/kita/page/0000000001.html", "/chuo/page/0000000005.html", full=True
    )
    raw_dir = tmp_path / "raw"
    args = ["--sources", str(sources), "--base-url", site.url, "--raw-dir", str(raw_dir), *FAST]
    code, out, _ = invoke("fetch", "--ward", "chuo", "--year", "2024", *args)
    assert (code, out.strip()) == (
        0,
        "fetched 1, unchanged 0, failed 0, incomplete 0, disallowed 0, settled 0 (not re-checked)",
    )
    assert site.paths() == ["/robots.txt", "/chuo/page/0000000005.html"]
    code, _, err = invoke("fetch", "--year", "1999", *args)
    assert code == 2 and err.startswith("error: no page")
    code, _, err = invoke("fetch", "--ward", "atlantis", *args)
    assert code == 2 and "unknown ward 'atlantis'" in err


def test_cli_every_page_failed_exits_1(site: Site, tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "s.csv", "/fukushima/page/0000000003.html")
    code, out, err = invoke(
        "fetch", "--sources", str(sources), "--base-url", site.url,
        "--raw-dir", str(tmp_path / "raw"), *FAST,
    )  # fmt: skip
    assert code == 1
    assert (
        out.strip()
        == "fetched 0, unchanged 0, failed 1, incomplete 0, disallowed 0, settled 0 (not re-checked)"
    )
    assert err.strip() == "error: every page failed; see the manifest's messages"


def test_cli_consecutive_failures_exit_1(site: Site, tmp_path: Path) -> None:
    missing = [f"/kita/page/00000009{n:02d}.html" for n in range(4)]
    sources = write_sources(tmp_path / "s.csv", "/kita/page/0000000001.html", *missing)
    code, _, err = invoke(
        "fetch", "--sources", str(sources), "--base-url", site.url,
        "--raw-dir", str(tmp_path / "raw"), "--max-failures", "2", *FAST,
    )  # fmt: skip
    assert code == 1
    assert err.strip() == "error: stopped after 2 consecutive failures"
    assert site.count(missing[2]) == 0


def test_cli_offline_touches_nothing(site: Site, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    code, out, _ = invoke("fetch", "--offline", "--base-url", site.url, "--raw-dir", str(raw_dir))
    assert code == 0
    assert out.splitlines() == [f"offline: not fetching; {raw_dir} left as it is"]
    assert not raw_dir.exists()
    assert site.seen == []


def test_cli_no_route_says_so_and_writes_nothing(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    sources = write_sources(tmp_path / "s.csv", "/kita/page/0000000001.html")
    raw_dir = tmp_path / "raw"
    started = time.monotonic()
    code, out, _ = invoke(
        "fetch", "--sources", str(sources), "--base-url", f"http://127.0.0.1:{closed}",
        "--raw-dir", str(raw_dir), *FAST,
    )  # fmt: skip
    assert time.monotonic() - started < 5
    assert code == 0
    assert len(out.splitlines()) == 1
    assert out.startswith(f"unreachable: 127.0.0.1:{closed}")
    assert out.rstrip().endswith(f"{raw_dir} left as it is")
    assert not raw_dir.exists()


def test_cli_bad_registry_is_one_line_error(tmp_path: Path) -> None:
    code, _, err = invoke("fetch", "--sources", str(tmp_path / "missing.csv"))
    assert code == 2 and err.startswith("error: cannot read") and len(err.splitlines()) == 1
    code, _, err = invoke("fetch", "--base-url", "ftp://example")
    assert code == 2 and "--base-url" in err


# --- discovery ------------------------------------------------------------------------------

KNOWN = "/kita/page/0000000011.html"
DISCOVERY: dict[str, Route] = {
    "/robots.txt": robots,
    KNOWN: lambda h, _: h.send(200, fixture("disc-known.html")),
    "/kita/page/0000000013.html": lambda h, _: h.send(200, fixture("disc-past.html")),
    "/kita/page/0000000015.html": lambda h, _: h.send(200, fixture("disc-r3.html")),
    "/kita/category/3001-1-2-0-0-0-0-0-0-0.html": lambda h, _: h.send(
        200, fixture("disc-category.html")
    ),
    "/shimin/page/0000000020.html": lambda h, _: h.send(200, fixture("disc-bureau.html")),
    "/kita/page/0000000023.html": lambda h, _: h.send(200, fixture("disc-process.html")),
}
EXPECTED_ADDED = [
    (city("/kita/page/0000000012.html"), "kita", 2023),  # link text names it
    (city("/kita/page/0000000014.html"), "kita", 2022),  # on the 過去の… page
    (city("/kita/page/0000000015.html"), "kita", 2021),  # "令和3年度" there: title decides
    (city("/kita/page/0000000018.html"), "kita", 2019),  # on the category listing
    (city("/kita/page/0000000024.html"), "kita", 2025),  # on the 策定経過 page
]


@pytest.fixture
def disc_site() -> Iterator[Site]:
    yield from serve(dict(DISCOVERY))


def known_registry(path: Path) -> Path:
    save_registry(path, [Page(city(KNOWN), "北区", "kita", 2024, "11")])
    return path


def test_discover_finds_ward_pages_and_nothing_else(disc_site: Site, tmp_path: Path) -> None:
    registry = [Page(city(KNOWN), "北区", "kita", 2024, "11")]
    result = discover(registry, options(disc_site, tmp_path / "raw"))
    added = sorted((p.url, p.ward_slug, p.fiscal_year) for p in result.added)
    assert added == sorted(EXPECTED_ADDED)
    assert all(p.ward == "北区" and p.page_id for p in result.added)
    requested = set(disc_site.paths())
    for path in ("/kita/page/0000000012.html", "/kita/page/0000000014.html",  # text sufficed
                 "/kita/page/0000000016.html", "/kita/page/0000000017.html",  # not followed
                 "/kita/page/0000000024.html", "/secret/page/0000000022.html",  # robots
                 "/kita/page/0000000026.html"):  # fmt: skip
        assert path not in requested
    assert disc_site.count("/shimin/page/0000000020.html") == 1  # looked at, a bureau: no
    assert disc_site.count(KNOWN) == 1 and disc_site.count("/robots.txt") == 1
    assert_spaced(disc_site)
    assert not (tmp_path / "raw").exists()  # discovery never writes the raw store
    assert result.fetched == len(disc_site.seen) - 1


def test_discover_reads_stored_pages_without_refetching(disc_site: Site, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    body = fixture("disc-known.html")
    path = store.store_version(raw_dir, "kita", "11", body, "html")
    record = RawRecord(
        url=city(KNOWN),
        fetched_at=dt.datetime.now(dt.UTC),
        outcome="fetched",
        path=path,
        sha256=store.sha256_hex(body),
    )
    store.append_manifest(raw_dir, [record])
    registry = [Page(city(KNOWN), "北区", "kita", 2024, "11")]
    result = discover(registry, options(disc_site, raw_dir), max_fetches=0)
    assert disc_site.seen == []
    assert [p.url for p in result.added] == [city("/kita/page/0000000012.html")]
    assert result.line().endswith("fetch limit reached")


def test_cli_discover_writes_registry_and_reports(disc_site: Site, tmp_path: Path) -> None:
    registry = known_registry(tmp_path / "registry.csv")
    args = ["discover", "--registry", str(registry), "--base-url", disc_site.url,
            "--raw-dir", str(tmp_path / "raw"), "--delay", str(DELAY)]  # fmt: skip
    before = registry.read_bytes()
    code, out, _ = invoke(*args, "--dry-run")
    assert code == 0 and registry.read_bytes() == before
    lines = out.splitlines()
    assert sorted(lines[:-1]) == sorted(f"added {u} {s} {y}" for u, s, y in EXPECTED_ADDED)
    assert lines[-1].startswith("discover: 5 added") and lines[-1].endswith("not written")

    code, out, _ = invoke(*args)
    assert code == 0
    rows = load_registry(registry)
    assert {(p.url, p.ward_slug, p.fiscal_year) for p in rows} == {
        (city(KNOWN), "kita", 2024),
        *EXPECTED_ADDED,
    }
    code, out, _ = invoke(*args)  # nothing new the second time
    assert code == 0 and out.splitlines()[-1].startswith("discover: 0 added")


def test_discover_when_unreachable_uses_stored_pages_only(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    registry = known_registry(tmp_path / "registry.csv")
    code, out, _ = invoke(
        "discover", "--registry", str(registry), "--base-url", f"http://127.0.0.1:{closed}",
        "--raw-dir", str(tmp_path / "raw"),
    )  # fmt: skip
    assert code == 0
    assert len(out.splitlines()) == 1
    assert out.startswith(
        f"discover: 0 added (0 pages read, 0 fetched); unreachable (127.0.0.1:{closed}"
    )
    assert "used stored pages only" in out


# --- pure helpers ---------------------------------------------------------------------------


def test_shipped_registry() -> None:
    rows = load_registry(REPO / "data" / "registry.csv")
    assert len(rows) >= 100
    assert all(p.url.startswith(SITE_ORIGIN + "/") for p in rows)
    assert all(p.ward_slug and p.fiscal_year and p.page_id for p in rows)
    header = (REPO / "data" / "registry.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "url,ward,ward_slug,fiscal_year,page_id"


def test_registry_round_trip_and_http_normalised(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "url\nhttp://www.city.osaka.lg.jp/kita/page/0000466843.html#top\n"
        "https://www.city.osaka.lg.jp/kita/page/0000466843.html\n\n",
        encoding="utf-8",
    )
    rows = load_registry(source)
    assert rows == [Page(url=city("/kita/page/0000466843.html"))]
    save_registry(tmp_path / "out.csv", rows)
    assert load_registry(tmp_path / "out.csv") == rows
    bad = tmp_path / "bad.csv"
    bad.write_text("address\nx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'url' column"):
        load_registry(bad)


def test_storage_key() -> None:
    assert storage_key(Page(city("/kita/page/0000466843.html"))) == ("kita", "466843")
    assert storage_key(Page(city("/x/page/1.html"), ward_slug="minato", page_id="565017")) == (
        "minato",
        "565017",
    )
    odd = Page("https://www.city.osaka.lg.jp/../../etc/passwd", ward_slug="../etc")
    slug, page_id = storage_key(odd)
    assert slug == "unknown" and len(page_id) == 12 and page_id.isalnum()
    store.raw_relpath(slug, page_id, "0" * 64, "html")  # accepted as a safe path


def test_select_pages() -> None:
    rows = [
        Page(city("/kita/page/0000000001.html"), fiscal_year=2022),
        Page(city("/chuo/page/0000000002.html"), ward_slug="chuo", fiscal_year=2023),
        Page(city("/chuo/page/0000000003.html")),
    ]
    assert select_pages(rows, ["kita"], []) == rows[:1]
    assert select_pages(rows, ["chuo"], [2023]) == rows[1:2]
    assert select_pages(rows, [], []) == rows


def test_addresses() -> None:
    assert rebase_url(city("/kita/page/1.html?a=1"), "http://127.0.0.1:8000") == (
        "http://127.0.0.1:8000/kita/page/1.html?a=1"
    )
    assert rebase_url(city("/kita/page/1.html"), "https://mirror.example/osaka/") == (
        "https://mirror.example/osaka/kita/page/1.html"
    )
    base = "http://127.0.0.1:8000"
    assert canonical_url("http://127.0.0.1:8000/kita/page/1.html#x", base) == city(
        "/kita/page/1.html"
    )
    assert canonical_url("http://www.city.osaka.lg.jp/kita/page/1.html", None) == city(
        "/kita/page/1.html"
    )
    assert canonical_url("https://example.com/kita/page/1.html", base) is None


def test_response_metadata() -> None:
    assert parse_charset("text/html; charset=UTF-8") == "utf-8"
    assert parse_charset('text/html; charset="Shift_JIS"') == "shift_jis"
    assert parse_charset("text/html") is None and parse_charset(None) is None
    assert parse_retry_after("120") == 120.0
    now = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    assert parse_retry_after("Mon, 01 Apr 2024 00:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None


def test_decode_html() -> None:
    assert "中央区" in decode_html(SJIS)  # from the meta charset
    assert "中央区" in decode_html(SJIS, "shift_jis")
    assert decode_html("北区".encode()) == "北区"
    assert decode_html("北区".encode("cp932")) == "北区"  # no declaration, not UTF-8


def test_link_extraction_uses_base_href() -> None:
    html = decode_html(fixture("disc-known.html"))
    links = extract_links(html, "http://127.0.0.1:1/kita/page/0000000011.html")
    assert links[0].url == city("/kita/page/0000000012.html")
    assert links[0].text == "令和5年度北区運営方針"
    assert all(not link.url.startswith("mailto:") for link in links)
    assert all("#top" not in link.url for link in links)
    assert page_title(html) == "令和6年度北区運営方針"
    assert page_title("<title>大阪市：市民局</title>") == "大阪市:市民局"


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("令和6年度北区運営方針", 2024),
        ("平成31年度北区運営方針", 2019),
        ("令和元年度(平成31年度)住吉区運営方針(素案)", 2019),
        ("2018年度(平成30年度)淀川区運営方針", 2018),
        ("平成29度 北区運営方針", 2017),
        ("令和５年度 港区運営方針", 2023),
        ("北区運営方針", None),
    ],
)
def test_title_fiscal_year(title: str, year: int | None) -> None:
    assert title_fiscal_year(title) == year


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("令和5年度北区運営方針", "policy"),
        ("令和4年度 生野区度運営方針", "policy"),
        ("過去の北区運営方針", "listing"),
        ("北区運営方針の策定経過", "listing"),
        ("令和6年度市民局運営方針", "other"),
        ("令和6年度運営方針", "other"),
        ("お知らせ", None),
    ],
)
def test_classify_text(text: str, kind: str | None) -> None:
    assert classify_text(text) == kind


def test_parse_by_address_fetches_politely_and_parses(site: Site) -> None:
    # `osaka-unei parse URL`: robots.txt first, then the page; the address is kept.
    from osaka_unei.sources import parse_source

    policy = parse_source(site.url + "/kita/page/0000000001.html", base_url=site.url)
    assert policy.ward == "北区"
    assert policy.url == site.url + "/kita/page/0000000001.html"
    assert site.paths()[:2] == ["/robots.txt", "/kita/page/0000000001.html"]


def test_parse_by_address_of_a_missing_page_is_one_error(site: Site) -> None:
    from osaka_unei.parse import PageError
    from osaka_unei.sources import parse_source

    with pytest.raises(PageError, match="HTTP 404"):
        parse_source(site.url + "/fukushima/page/0000000003.html", base_url=site.url)
