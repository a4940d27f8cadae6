"""Datasette plugin: a running server follows a newly published build, whole.

`make serve` serves `data/processed/osaka_unei.sqlite`, and a build publishes a new database
under that path (a file renamed over it, or the `data/processed` link swapped to a new build
folder). Datasette opens a connection per worker thread once and keeps it, so each thread
went on reading the file it first opened: concurrent requests answered from two builds.

Here each database file is served as a series of *generations*. A generation is the file
found at the path at one moment, identified by `os.stat` following symlinks (device, inode,
mtime, size), with its own pool of read-only connections (one per SQL thread), all opened
while the path named that same file (checked after they are open, else opened again).
Every request, when it starts, compares the path's identity with the current generation's
and, on a change, opens the new generation; then it is pinned to that generation (a context
variable that every query of the request reads), so all its queries (rows, count, facets)
read one build. Requests already running finish on the generation they started with, whose
connections close when the last of them is done (the old file's space is freed then). A
path that cannot be read for a moment (during a swap) keeps the current generation.

Load with `datasette … --plugins-dir src/osaka_unei/db/datasette_plugins`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import sqlite3
import sys
import threading
from typing import Any

from datasette import hookimpl
from datasette.database import Database

# Database name → the generation the running request reads.
_PINNED: contextvars.ContextVar[dict[str, Generation] | None] = contextvars.ContextVar(
    "osaka_unei_pinned", default=None
)
_OPEN_ATTEMPTS = 5


def file_identity(path: str) -> tuple[int, int, int, int] | None:
    """What tells one published file from the next (symlinks followed), or None if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class Generation:
    """One file's connections: a pool shared by the SQL threads, closed when unreferenced."""

    def __init__(self, identity: tuple[int, int, int, int], connections: list[Any]) -> None:
        self.identity = identity
        self.size = len(connections)
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for conn in connections:
            self._pool.put(conn)

    def run(self, fn: Any) -> Any:
        conn = self._pool.get()
        try:
            return fn(conn)
        finally:
            self._pool.put(conn)

    def __del__(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except (queue.Empty, sqlite3.Error):
                break


class FollowingDatabase(Database):
    """A file database whose queries read the generation pinned to the current request."""

    def _follow_init(self) -> None:
        self._generation: Generation | None = None
        self._generation_lock = threading.Lock()

    def connect(self, write: bool = False) -> Any:
        if write or self.is_memory or not self.is_mutable:
            return super().connect(write=write)
        # As Database.connect, but not kept in _all_file_connections: a generation's
        # connections are closed with it, not when the server stops.
        qs = "?mode=ro" + ("&nolock=1" if self.ds.nolock else "")
        return sqlite3.connect(f"file:{self.path}{qs}", uri=True, check_same_thread=False)

    def _open(self) -> Generation | None:
        size = max(1, self.ds.setting("num_sql_threads") or 1)
        for _ in range(_OPEN_ATTEMPTS):
            identity = file_identity(self.path)
            if identity is None:
                return None
            connections = []
            for _ in range(size):
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # file opened
                connections.append(conn)
            # Opened after the first stat and before this one, and the path named the same
            # file at both moments (a published file is never renamed back): that file.
            if file_identity(self.path) == identity:
                return Generation(identity, connections)
            for conn in connections:
                conn.close()
        return None

    def current(self) -> Generation:
        """The generation of the file at the path now (opened if it changed)."""
        with self._generation_lock:
            generation = self._generation
            identity = file_identity(self.path)
            if generation is None or (identity is not None and identity != generation.identity):
                fresh = self._open()
                if fresh is not None:
                    self._generation = generation = fresh
            if generation is None:
                raise sqlite3.OperationalError(f"cannot open {self.path}")
            return generation

    def close(self) -> None:
        with self._generation_lock:
            self._generation = None
        super().close()

    async def execute(self, sql: str, *args: Any, log_sql_errors: bool = True, **kw: Any) -> Any:
        # Datasette logs a failed query with its whole SQL and parameters (any length, a
        # query from ?sql= included): one line of at most ~300 characters instead.
        try:
            return await super().execute(sql, *args, log_sql_errors=False, **kw)
        except sqlite3.DatabaseError as exc:
            if log_sql_errors and not (exc.args and exc.args[0] == "interrupted"):
                sql_line = " ".join(str(sql).split())
                sys.stderr.write(
                    f"osaka-unei datasette: SQL error in {self.name}: {str(exc)[:100]}"
                    f" (sql: {sql_line[:160]}{'…' if len(sql_line) > 160 else ''})\n"
                )
                sys.stderr.flush()
            raise

    async def execute_fn(self, fn: Any) -> Any:
        if not self.is_mutable or self.is_memory:
            return await super().execute_fn(fn)
        pinned = _PINNED.get() or {}
        generation = pinned.get(self.name) or self.current()
        if self.ds.executor is None:
            return generation.run(fn)
        return await asyncio.get_running_loop().run_in_executor(
            self.ds.executor, generation.run, fn
        )


def _follow(datasette: Any) -> list[FollowingDatabase]:
    followed = []
    for db in datasette.databases.values():
        if db.path and db.is_mutable and not db.is_memory:
            if not isinstance(db, FollowingDatabase):
                db.__class__ = FollowingDatabase
                db._follow_init()
            followed.append(db)
    return followed


@hookimpl
def startup(datasette: Any) -> None:
    _follow(datasette)


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    def wrap(app: Any) -> Any:
        async def pinned(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            generations = {}
            for db in _follow(datasette):
                # If the file cannot be opened, the request fails as it would have.
                with contextlib.suppress(sqlite3.Error):
                    generations[db.name] = db.current()
            token = _PINNED.set(generations)
            try:
                await app(scope, receive, send)
            finally:
                _PINNED.reset(token)

        return pinned

    return wrap
