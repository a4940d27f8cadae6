"""A hostile HTTP server on 127.0.0.1 for the fetcher's tests: bombs, trickles, cut bodies,
wrong charsets, off-host redirects, and plain pages served by path.

Every response is written by hand (HTTP/1.0, the connection closes after each answer), so a
route can lie about Content-Length, stop half-way or dribble bytes. Every loop is bounded
(by a count and by the server's stop event); ``HostileServer`` is a context manager that
stops the server and every route on exit.
"""

from __future__ import annotations

import functools
import gzip
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

MIB = 1024 * 1024
FIXTURES = Path(__file__).parent / "fixtures" / "fetch"

Route = Callable[["HostileHandler"], None]

# --- bodies -------------------------------------------------------------------------------


@functools.cache
def double_gzip_bomb(inner_mib: int = 256) -> bytes:
    """gzip(gzip(inner_mib MiB of zeros)): about 600 bytes that decode to 256 MiB. Built
    once per session, streaming 1 MiB of zeros at a time (never holding the whole)."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    parts = [inner.compress(zeros) for _ in range(inner_mib)]
    parts.append(inner.flush())
    return gzip.compress(b"".join(parts), 9)


def stream_gzip_zeros(total: int, stop: threading.Event) -> Callable[[], bytes | None]:
    """A lazy single-gzip bomb: each call returns the gzip of the next MiB of zeros, then
    the trailer, then None. The server never holds more than one MiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    state = {"left": total, "done": False}

    def next_part() -> bytes | None:
        if state["done"] or stop.is_set():
            return None
        if state["left"] <= 0:
            state["done"] = True
            return compressor.flush()
        size = min(MIB, state["left"])
        state["left"] -= size
        return compressor.compress(zeros[:size])

    return next_part


def tiny_page(ward: str, year_label: str, page_id: str, *, draft: bool = False) -> bytes:
    """A small but complete page in the site's template (title, h1, body, </html>)."""
    title = f"{year_label}{ward}運営方針{'(案)' if draft else ''}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<html><head><meta charset="UTF-8" />'
        f"<title>大阪市{ward}:{title}</title></head><body>"
        f'<div id="sub_h1_box"><h1><span class="line">{title}</span></h1></div>'
        f'<div class="page_num01"><span class="p_coler01">ページ番号:{page_id}</span></div>'
        '<div id="mol_contents"><p>【区の目標(何をめざすのか)】</p><p>安全で住みよいまち</p>'
        "</div></body></html>\n"
    ).encode()


# --- the server ---------------------------------------------------------------------------


@dataclass
class HostileState:
    routes: dict[str, Route] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    finished: list[str] = field(default_factory=list)  # routes that ran to their end

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return len(self.paths) if path is None else self.paths.count(path)


class HostileHandler(BaseHTTPRequestHandler):
    state: HostileState  # set on a subclass per server

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.paths.append(self.path)
        route = self.state.routes.get(self.path)
        try:
            if route is None:
                self.answer(404, b"not found", {"Content-Type": "text/plain"})
            else:
                route(self)
        except OSError:
            pass  # the client gave up (or shut the connection down), as it should

    def answer(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        length: bool = True,
    ) -> None:
        """A whole response written by hand; Content-Length unless length=False."""
        self.head(status, headers, len(body) if length else None)
        self.wfile.write(body)

    def head(self, status: int, headers: dict[str, str] | None, length: int | None) -> None:
        lines = [f"HTTP/1.0 {status} X"]
        merged = {"Content-Type": "text/html; charset=UTF-8", **(headers or {})}
        if length is not None:
            merged["Content-Length"] = str(length)
        lines += [f"{name}: {value}" for name, value in merged.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()

    def pause(self, seconds: float) -> bool:
        """Sleep unless the server stops; False once it is stopping."""
        return not self.state.stop.wait(seconds)

    def log_message(self, format: str, *args: object) -> None:
        pass


class HostileServer:
    """ThreadingHTTPServer on 127.0.0.1:0; ``with HostileServer(routes) as server:``."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.state = HostileState(routes=dict(routes or {}))
        handler = type("BoundHostileHandler", (HostileHandler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.state.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.state.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.state.stop.set()  # every route's loop ends at its next step
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def count(self, path: str | None = None) -> int:
        return self.state.count(path)


# --- routes -------------------------------------------------------------------------------


def robots_allow_all(handler: HostileHandler) -> None:
    handler.answer(200, b"User-agent: *\nDisallow:\n", {"Content-Type": "text/plain"})


def page(body: bytes, headers: dict[str, str] | None = None) -> Route:
    def route(handler: HostileHandler) -> None:
        handler.answer(200, body, headers)

    return route


def double_gzip(handler: HostileHandler) -> None:
    """Content-Encoding: gzip, gzip on ~600 bytes that decode to 256 MiB."""
    handler.answer(200, double_gzip_bomb(), {"Content-Encoding": "gzip, gzip"})


def single_gzip_gib(handler: HostileHandler) -> None:
    """1 GiB of zeros, gzip-compressed on the fly (about 1 MB on the wire), no length."""
    handler.head(200, {"Content-Encoding": "gzip"}, None)
    next_part = stream_gzip_zeros(1024 * MIB, handler.state.stop)
    pending = b""
    for _ in range(1024 + 2):  # bounded: one part per MiB, then the trailer
        part = next_part()
        if part is None:
            break
        pending += part
        if len(pending) >= 64 * 1024:  # written 64 KB at a time, about 64 MiB decoded
            handler.wfile.write(pending)
            pending = b""
    else:
        return
    handler.wfile.write(pending)
    with handler.state.lock:
        handler.state.finished.append(handler.path)


def trickle(every: float = 0.2, limit: int = 100) -> Route:
    """Headers at once, then the body one byte every `every` s (at most `limit` bytes)."""

    def route(handler: HostileHandler) -> None:
        body = tiny_page("北区", "令和6年度", "1")
        handler.head(200, None, len(body))
        for byte in body[:limit]:
            if not handler.pause(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return route


def slow_headers(every: float = 0.2, limit: int = 100) -> Route:
    """The status line, then the headers one byte every `every` s (never finished)."""

    def route(handler: HostileHandler) -> None:
        handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
        handler.wfile.flush()
        header = b"X-Padding: " + b"a" * limit
        for byte in header[:limit]:
            if not handler.pause(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return route


def cut_with_length(body: bytes) -> Route:
    """Declares the whole body's length, sends the first half, closes."""

    def route(handler: HostileHandler) -> None:
        handler.head(200, None, len(body))
        handler.wfile.write(body[: len(body) // 2])

    return route


def cut_without_length(body: bytes) -> Route:
    """No Content-Length (the body ends when the connection closes): half a page."""

    def route(handler: HostileHandler) -> None:
        handler.head(200, None, None)
        handler.wfile.write(body[: len(body) // 2])

    return route


def cut_chunked(body: bytes) -> Route:
    """HTTP/1.1 chunked: one chunk with the first half, then the connection closes before
    the last (empty) chunk."""

    def route(handler: HostileHandler) -> None:
        half = body[: len(body) // 2]
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
        handler.wfile.write(head.encode("ascii") + f"{len(half):x}\r\n".encode() + half + b"\r\n")

    return route


def redirect_to(location: str) -> Route:
    def route(handler: HostileHandler) -> None:
        handler.answer(302, b"", {"Location": location})

    return route
