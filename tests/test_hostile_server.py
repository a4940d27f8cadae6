"""The fetcher against a hostile server (tests/hostile_server.py): bombs, trickles, cut
bodies, wrong charsets, other hosts, bad registry rows. Issue 12.

Memory is measured in a child process (its own peak RSS, VmHWM: ru_maxrss would carry the
forking parent's over exec), under an address-space limit so that a regression fails the
test instead of the machine.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from osaka_unei import store
from osaka_unei.cli import app
from osaka_unei.decoding import decode
from osaka_unei.fetch import SITE_ORIGIN, FetchOptions, Page, discover, run_fetch
from osaka_unei.fetch.client import BodyReader, Refused, content_coding, html_cut_short
from osaka_unei.models import RawRecord

from .hostile_server import (
    FIXTURES,
    HostileServer,
    cut_chunked,
    cut_with_length,
    cut_without_length,
    double_gzip,
    page,
    redirect_to,
    robots_allow_all,
    single_gzip_gib,
    slow_headers,
    tiny_page,
    trickle,
)

SRC = Path(__file__).resolve().parents[1] / "src"
KITA = (FIXTURES / "kita.html").read_bytes()
MEMORY_CAP_MB = 100

DOUBLE = "/kita/page/0000000101.html"
SINGLE = "/kita/page/0000000102.html"
TRICKLE = "/kita/page/0000000103.html"
SLOW_HEADERS = "/kita/page/0000000104.html"
CUT_LENGTH = "/kita/page/0000000105.html"
CUT_CLOSE = "/kita/page/0000000106.html"
UTF7 = "/kita/page/0000000107.html"
OFF_HOST = "/kita/page/0000000108.html"
GOOD = "/kita/page/0000000109.html"
NOT_POLICY = "/kita/page/0000000110.html"
BROTLI = "/kita/page/0000000111.html"


def city(path: str) -> str:
    return SITE_ORIGIN + path


# A proxy from the environment must not carry test traffic anywhere (conftest).
pytestmark = pytest.mark.usefixtures("no_proxies")


@pytest.fixture
def server() -> Iterator[HostileServer]:
    routes = {
        "/robots.txt": robots_allow_all,
        DOUBLE: double_gzip,
        SINGLE: single_gzip_gib,
        TRICKLE: trickle(every=0.2, limit=100),
        SLOW_HEADERS: slow_headers(every=0.2, limit=100),
        CUT_LENGTH: cut_with_length(KITA),
        CUT_CLOSE: cut_without_length(KITA),
        UTF7: page(KITA, {"Content-Type": "text/html; charset=utf-7"}),
        GOOD: page(KITA),
        NOT_POLICY: page(b"SECRET-BODY-LINE\n<html><body>nothing here</body></html>\n"),
        BROTLI: page(b"\x1b\x00", {"Content-Encoding": "br"}),
    }
    with HostileServer(routes) as running:
        running.state.routes[OFF_HOST] = redirect_to(f"http://localhost:{running.state.port}{GOOD}")
        yield running


def options(server: HostileServer, raw_dir: Path, **changes: object) -> FetchOptions:
    values: dict[str, object] = {
        "raw_dir": raw_dir,
        "base_url": server.url,
        "delay": 0.0,
        "timeout": 0.5,
        "connect_timeout": 0.5,
        "retries": 1,
        "backoff": 0.01,
        "trust_env": False,
        "deadline": 1.0,
        "page_budget": 2.0,
    }
    values.update(changes)
    return FetchOptions(**values)  # type: ignore[arg-type]


def fetch(server: HostileServer, raw_dir: Path, *paths: str, **changes: object) -> list[RawRecord]:
    chosen = [Page(url=city(path)) for path in paths]
    return run_fetch(chosen, options(server, raw_dir, **changes)).records


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- 1. decompression bombs, in a child process whose peak memory is measured ----------

CHILD = r"""
import json, re, resource, sys, time
LIMIT = 1536 * 1024 * 1024  # a runaway fails here, not on the machine
resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
from osaka_unei.fetch.client import PoliteClient
origin, path = sys.argv[1], sys.argv[2]
started = time.monotonic()
with PoliteClient(origin, delay=0.0, retries=0, trust_env=False) as client:
    answer = client.get(origin + path)
with open("/proc/self/status") as status:  # VmHWM: peak resident set since exec, in kB
    peak_kb = int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))
print(json.dumps({
    "error": answer.error,
    "status": answer.status,
    "body": None if answer.body is None else len(answer.body),
    "seconds": round(time.monotonic() - started, 2),
    "peak_rss_mb": round(peak_kb / 1024, 1),
}))
"""


def fetch_in_child(server: HostileServer, path: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, server.url, path],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    print(path, result)  # the figures for the report (pytest -s)
    return result


def test_double_gzip_bomb_is_refused_in_bounded_memory(server: HostileServer) -> None:
    result = fetch_in_child(server, DOUBLE)
    assert result["error"] == "more than one content encoding refused (gzip, gzip)"
    assert result["body"] is None
    assert float(result["peak_rss_mb"]) < MEMORY_CAP_MB  # type: ignore[arg-type]


def test_single_gzip_gib_bomb_stops_at_the_cap(server: HostileServer) -> None:
    result = fetch_in_child(server, SINGLE)
    assert result["error"] == f"response over {10 * 1024 * 1024} bytes refused"
    assert float(result["peak_rss_mb"]) < MEMORY_CAP_MB  # type: ignore[arg-type]
    assert float(result["seconds"]) < 10  # type: ignore[arg-type]
    assert server.state.finished == []  # the client hung up long before the 1 GiB


def test_unknown_content_encoding_is_refused(server: HostileServer, tmp_path: Path) -> None:
    (record,) = fetch(server, tmp_path / "raw", BROTLI)
    assert (record.outcome, record.path) == ("failed", None)
    assert record.message == "unsupported content encoding refused (br)"


def test_parse_url_refuses_the_bomb_in_one_line(server: HostileServer) -> None:
    code, out, err = invoke("parse", server.url + DOUBLE, "--base-url", server.url)
    assert (code, out) == (2, "")
    assert err == (
        f"error: cannot fetch {server.url}{DOUBLE}: "
        "more than one content encoding refused (gzip, gzip)\n"
    )


# --- 2. one deadline per request, one time budget per page -----------------------------


@pytest.mark.parametrize("path", [TRICKLE, SLOW_HEADERS])
def test_trickle_stops_at_the_deadline(server: HostileServer, tmp_path: Path, path: str) -> None:
    started = time.monotonic()
    (record,) = fetch(server, tmp_path / "raw", path, retries=0, page_budget=5.0)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0, elapsed  # the server would go on for 20 s
    assert (record.outcome, record.path) == ("failed", None)
    assert record.message == "deadline exceeded: no complete answer within 1 s"


def test_retries_stay_within_the_page_budget(server: HostileServer, tmp_path: Path) -> None:
    started = time.monotonic()
    (record,) = fetch(server, tmp_path / "raw", TRICKLE, retries=10, page_budget=2.0)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert 2 <= server.count(TRICKLE) <= 3  # 10 retries allowed, the budget stopped them
    assert record.outcome == "failed" and "deadline exceeded" in (record.message or "")


# --- 3. a page cut short is incomplete and never the latest version --------------------


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (cut_with_length(KITA), f"body cut short ({len(KITA) // 2} of {len(KITA)} bytes)"),
        (cut_without_length(KITA), "body cut short (no </html> at the end)"),
        (cut_chunked(KITA), f"body cut short ({len(KITA) // 2} bytes)"),
    ],
)
def test_cut_body_is_incomplete_and_the_complete_version_stays_latest(
    server: HostileServer, tmp_path: Path, route: object, reason: str
) -> None:
    raw_dir = tmp_path / "raw"
    (first,) = fetch(server, raw_dir, GOOD)
    assert first.outcome == "fetched"
    server.state.routes[GOOD] = route  # type: ignore[assignment]
    (second,) = fetch(server, raw_dir, GOOD)
    assert (second.outcome, second.path, second.status) == ("incomplete", None, 200)
    assert second.message == reason
    assert second.size == len(KITA) // 2
    assert sorted(p.name for p in raw_dir.rglob("*.html")) == [Path(str(first.path)).name]
    latest = store.latest_versions(store.read_manifest(raw_dir))
    assert latest[city(GOOD)].path == first.path


def test_latest_versions_skip_incomplete_records() -> None:
    at = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    good = RawRecord(url="u", fetched_at=at, outcome="fetched", path="kita/1-aa.html")
    cut = RawRecord(
        url="u", fetched_at=at + dt.timedelta(days=1), outcome="incomplete", path="kita/1-bb.html"
    )
    assert store.latest_versions([good, cut]) == {"u": good}
    assert store.latest_versions([cut]) == {}
    assert store.stored_versions([good, cut]) == [good]


def test_old_manifest_lines_still_read(tmp_path: Path) -> None:
    line = (
        '{"url":"u","final_url":null,"status":200,"fetched_at":"2025-05-01T00:00:00Z",'
        '"content_type":null,"charset":null,"etag":null,"last_modified":null,"sha256":null,'
        '"size":null,"outcome":"fetched","path":"kita/1-aa.html","ward_slug":"kita",'
        '"fiscal_year":null,"page_id":"1","source_kind":"fetched","message":null}\n'
    )
    (tmp_path / store.MANIFEST_NAME).write_text(line, encoding="utf-8")
    assert store.read_manifest(tmp_path)[0].outcome == "fetched"


# --- 4. one host ------------------------------------------------------------------------


def test_parse_url_refuses_another_host_before_connecting(server: HostileServer) -> None:
    for address in (
        f"http://localhost:{server.state.port}{GOOD}",
        f"{server.url}{GOOD}",  # 127.0.0.1 without --base-url naming it
        "https://example.com/kita/page/0000000001.html",
    ):
        code, out, err = invoke("parse", address)
        assert (code, out) == (2, "")
        assert err == (
            f"error: not an address on {SITE_ORIGIN}/ (nor on --base-url): {address}\n"
        ), err
    code, _, err = invoke("parse", f"http://localhost:{server.state.port}{GOOD}", "--base-url",
                          server.url)  # fmt: skip
    assert code == 2 and "not an address on" in err
    assert server.count() == 0


def test_parse_url_on_the_mirror_works(server: HostileServer) -> None:
    code, out, _ = invoke("parse", city(GOOD), "--base-url", server.url, "--format", "summary")
    assert code == 0 and "北区" in out
    code, out, _ = invoke("parse", server.url + GOOD, "--base-url", server.url, "--format",
                          "summary")  # fmt: skip
    assert code == 0 and "北区" in out


def test_parse_url_error_never_echoes_the_body(server: HostileServer) -> None:
    code, out, err = invoke("parse", server.url + NOT_POLICY, "--base-url", server.url)
    assert (code, out) == (2, "")
    assert "SECRET" not in err
    assert err == f"error: {server.url}{NOT_POLICY}: not a 運営方針 page\n"


def test_fetch_refuses_registry_rows_off_the_city_site(
    server: HostileServer, tmp_path: Path
) -> None:
    chosen = [Page(url=f"http://localhost:{server.state.port}{GOOD}"), Page(url=city(GOOD))]
    summary = run_fetch(chosen, options(server, tmp_path / "raw"))
    bad, good = summary.records
    assert (bad.outcome, bad.path, bad.status) == ("failed", None, None)
    assert bad.message == f"bad registry row: not an address on {SITE_ORIGIN}/"
    assert good.outcome == "fetched"
    assert server.count(GOOD) == 1  # the good row only, never the localhost one


def test_discover_requests_nothing_off_the_city_site(server: HostileServer, tmp_path: Path) -> None:
    elsewhere = f"http://localhost:{server.state.port}"
    registry = [Page(url=elsewhere + GOOD), Page(url="https://example.com" + GOOD)]
    result = discover(registry, options(server, tmp_path / "raw"), listings=[elsewhere + GOOD])
    assert (result.added, result.fetched) == ([], 0)
    assert server.count() == 0


def test_redirect_to_another_host_is_refused(server: HostileServer, tmp_path: Path) -> None:
    (record,) = fetch(server, tmp_path / "raw", OFF_HOST)
    assert (record.outcome, record.status, record.path) == ("failed", 302, None)
    assert record.message == "redirect to another host refused (localhost)"
    assert server.count(GOOD) == 0


# --- 5. one bad registry row does not stop the run -------------------------------------


def test_bad_registry_row_is_a_failed_record_and_the_run_goes_on(
    server: HostileServer, tmp_path: Path
) -> None:
    raw_dir = tmp_path / "raw"
    huge_id = "1" * 74
    server.state.routes[f"/kita/page/{huge_id}.html"] = page(KITA)  # would be a 200
    chosen = [
        Page(url=city(f"/kita/page/{huge_id}.html"), page_id=huge_id),
        Page(url=city(GOOD)),
    ]
    summary = run_fetch(chosen, options(server, raw_dir))
    bad, good = summary.records
    assert (bad.outcome, bad.path) == ("failed", None)
    assert bad.message == f"bad registry row: unsafe path part: {huge_id!r}"
    assert good.outcome == "fetched"
    assert server.count(f"/kita/page/{huge_id}.html") == 0
    assert [r.outcome for r in store.read_manifest(raw_dir)] == ["failed", "fetched"]


def test_cli_fetch_with_a_bad_row_completes(server: HostileServer, tmp_path: Path) -> None:
    server.state.routes["/kita/page/0000000001.html"] = page(KITA)
    sources = tmp_path / "s.csv"
    sources.write_text(
        f"url,page_id\n{city('/kita/page/0000000001.html')},{'9' * 74}\n{city(GOOD)},\n",
        encoding="utf-8",
    )
    code, out, _ = invoke(
        "fetch", "--sources", str(sources), "--base-url", server.url,
        "--raw-dir", str(tmp_path / "raw"), "--delay", "0",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("fetched 1, unchanged 0, failed 1, incomplete 0, disallowed 0")


# --- 6. a wrong charset header does not lose the page ----------------------------------


def test_wrong_charset_header_falls_back_to_the_page(server: HostileServer, tmp_path: Path) -> None:
    raw_dir = tmp_path / "raw"
    (record,) = fetch(server, raw_dir, UTF7)
    assert (record.outcome, record.charset) == ("fetched", "utf-7")
    assert (raw_dir / str(record.path)).read_bytes() == KITA  # the bytes as received
    text, warnings = decode(KITA, record.charset)
    assert "令和6年度北区運営方針" in text.replace(" ", "")
    assert warnings == ["the HTTP charset utf-7 is unknown or unsafe; read as utf-8"]
    code, out, _ = invoke("parse", server.url + UTF7, "--base-url", server.url, "--format",
                          "summary")  # fmt: skip
    assert code == 0 and "北区" in out


def test_decode_prefers_the_page_when_the_header_disagrees() -> None:
    sjis = (FIXTURES / "chuo-sjis.html").read_bytes()
    text, warnings = decode(sjis, "iso-8859-1")  # decodes, but to mojibake
    assert "中央区" in text
    assert warnings == [
        "the HTTP charset iso-8859-1 disagrees with the page's cp932; read as cp932"
    ]
    text, warnings = decode("<p>北区</p>".encode(), "us-ascii")  # fails on the first kanji
    assert (text, warnings) == (
        "<p>北区</p>",
        ["the HTTP charset us-ascii does not fit the bytes; read as utf-8"],
    )
    text, warnings = decode("<p>北区</p>".encode(), "utf-8")
    assert (text, warnings) == ("<p>北区</p>", [])
    stray = "<p>北区</p>".encode("cp932") + b"\x81"  # no declaration, nothing reads it cleanly
    text, warnings = decode(stray, "shift_jis")
    assert text.startswith("<p>北区</p>")
    assert warnings == ["1 invalid byte(s) for cp932 replaced by U+FFFD"]


def test_tiny_page_is_complete() -> None:  # the helper the refresh tests serve
    body = tiny_page("北区", "令和6年度", "1")
    assert body.rstrip().endswith(b"</html>") and "北区運営方針" in body.decode()


# --- the pieces, without a server ------------------------------------------------------


def test_body_reader_decodes_one_layer_within_the_cap() -> None:
    page = KITA * 3
    for coding, data in [
        ("", page),
        ("gzip", gzip.compress(page)),
        ("gzip", gzip.compress(page[:1000]) + gzip.compress(page[1000:])),  # two members
        ("deflate", zlib.compress(page)),  # zlib-wrapped, as the RFC says
        ("deflate", zlib.compress(page)[2:-4]),  # raw deflate, as some servers send
    ]:
        reader = BodyReader(coding, 10_000)
        for at in range(0, len(data), 7):  # in small chunks, as a socket may give them
            reader.feed(data[at : at + 7])
        assert (reader.body(), reader.cut_short()) == (page, False), coding
    reader = BodyReader("gzip", 10_000)
    reader.feed(gzip.compress(page)[:-20])
    assert reader.cut_short()  # the stream never ended
    with pytest.raises(Refused, match="response over 1000 bytes refused"):
        BodyReader("gzip", 1000).feed(gzip.compress(bytes(5000)))
    with pytest.raises(Refused, match="corrupt compressed body refused"):
        BodyReader("gzip", 1000).feed(b"not gzip at all")


def test_content_coding_accepts_one_known_coding() -> None:
    assert [content_coding(v) for v in (None, "", "identity", "GZIP", "x-gzip", "deflate")] == [
        "", "", "", "gzip", "gzip", "deflate"
    ]  # fmt: skip
    with pytest.raises(Refused, match=r"^more than one content encoding refused \(gzip, br\)$"):
        content_coding("gzip, br")
    with pytest.raises(Refused, match=r"^unsupported content encoding refused \(zstd\)$"):
        content_coding("zstd")


def test_html_cut_short() -> None:
    assert html_cut_short(KITA[: len(KITA) // 2])
    assert not html_cut_short(KITA)
    assert not html_cut_short(b"plain text, no document")
    assert not html_cut_short(b"<HTML><body>x</body></HTML >\n")
