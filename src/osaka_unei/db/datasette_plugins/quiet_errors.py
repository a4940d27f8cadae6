"""Datasette plugin: an error is one line in the log, and the server only reads.

Datasette's default error handler prints every error (a 404 too) as a rich traceback with
the local variables of each frame, 13–16 KB per error on stdout, and a plain traceback on
stderr for a 500; a POST to a read-only canned query even crashed past the handler (a
traceback from uvicorn). A page that anyone can request must not let anyone fill the disk.

- The default handler is replaced by one that answers with the same pages (error.html, or
  JSON for a .json path) and logs one line on stderr for a server error (5xx):
  `osaka-unei datasette: 500 POST /path: ExceptionType: message` (message cut at 200
  characters); a 4xx is already the access log's line.
- The database is published read-only, so a method other than GET, HEAD or OPTIONS is
  answered 405 before Datasette sees it (Datasette answered a POST to a table with 500).
- A failed SQL query is one line of at most ~300 characters (Datasette wrote the whole SQL
  and its parameters): `FollowingDatabase.execute` in follow_build.py.
- Anything that still escapes is caught at the outside: one line, and a 500 if no response
  had started.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from datasette import Response, hookimpl
from datasette.plugins import pm
from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup

DEFAULT_HANDLER = "datasette.handle_exception"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MESSAGE_CHARS = 200

if pm.get_plugin(DEFAULT_HANDLER) is not None:
    pm.unregister(name=DEFAULT_HANDLER)
# Datasette leaves a facet coroutine unawaited when a table page fails: three lines of
# warning on stderr after the error's own line.
warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)


def _one_line(text: object) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS] + "…"


def log_error(status: int, method: str, path: str, exception: BaseException) -> None:
    sys.stderr.write(
        f"osaka-unei datasette: {status} {_one_line(method)} {_one_line(path)}: "
        f"{type(exception).__name__}: {_one_line(exception)}\n"
    )
    sys.stderr.flush()


@hookimpl
def handle_exception(datasette: Any, request: Any, exception: BaseException) -> Any:
    async def inner() -> Response:
        title = None
        if isinstance(exception, Base400):
            status, info, message = exception.status, {}, exception.args[0]
        elif isinstance(exception, DatasetteError):
            status, info, message = exception.status, exception.error_dict, exception.message
            if exception.message_is_html:
                message = Markup(message)
            title = exception.title
        else:
            status, info, message = 500, {}, "Internal Server Error"
        if status >= 500:
            log_error(status, request.method, request.path, exception)
        info = {**info, "ok": False, "error": message, "status": status, "title": title}
        headers: dict[str, str] = {}
        if datasette.cors:
            add_cors_headers(headers)
        if request.path.endswith(".json"):
            return Response.json(info, status=status, headers=headers)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        context = {
            **info,
            "urls": datasette.urls,
            "app_css_hash": datasette.app_css_hash(),
            "menu_links": lambda: [],
        }
        return Response.html(await template.render_async(context), status=status, headers=headers)

    return inner


async def _send_text(send: Any, status: int, text: str, headers: list[Any]) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def quiet(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            method = scope.get("method", "GET")
            if method not in READ_METHODS:
                await _send_text(
                    send,
                    405,
                    "405 Method Not Allowed: this database is read-only\n",
                    [(b"allow", b"GET, HEAD, OPTIONS")],
                )
                return
            started = False

            async def tracking_send(message: dict[str, Any]) -> None:
                nonlocal started
                if message.get("type") == "http.response.start":
                    started = True
                await send(message)

            try:
                await app(scope, receive, tracking_send)
            except Exception as exc:
                log_error(500, method, scope.get("path", ""), exc)
                if not started:
                    await _send_text(send, 500, "500 Internal Server Error\n", [])

        return quiet

    return wrap
