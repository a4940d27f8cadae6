"""The `osaka-unei` command line: one command per stage, thin wrappers over the library."""

from __future__ import annotations

import functools
import inspect
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from osaka_unei.errors import (
    INTERNAL_ERROR_EXIT,
    BadInputError,
    FetchFailedError,
    OsakaUneiError,
    StoreError,
    exit_code,
)
from osaka_unei.settings import DEFAULTS as FETCH
from osaka_unei.settings import SETTINGS as FETCH_SETTINGS
from osaka_unei.store import (
    DEFAULT_CACHE_DIR,
    DEFAULT_OUT_DIR,
    DEFAULT_RAW_DIR,
    DEFAULT_REGISTRY,
    DEFAULT_REPORT_DIR,
)

if TYPE_CHECKING:
    from rich.console import Console

    from osaka_unei.wards import Ward


def _one_line(error: OsakaUneiError) -> str:
    return " ".join(str(error).split())  # pydantic's errors span several lines


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose OsakaUneiError ends in one line and the exit code of its kind
    (errors.EXIT_CODES). An OSError naming a path (a folder missing, not a folder, full or
    not writable) is the machine's state, not a bug: one line, StoreError's code. Anything
    else goes on to run(): an internal error."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OsakaUneiError as exc:
            fail(_one_line(exc), exc)
        except OSError as exc:
            if exc.filename is None:
                raise
            fail(f"cannot use {exc.filename}: {exc.strerror or exc}", StoreError)

    return wrapper


class _App(typer.Typer):
    """typer.Typer whose every command maps the error tree to exit codes (_user_errors)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().command(*args, **kwargs)

        def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
            register(_user_errors(function))
            return function

        return decorator


app = _App(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Osaka City ward 運営方針 pages → a tidy dataset.",
)

_state = {"debug": False}


def _unwrap(doc: str | None) -> str | None:
    """A docstring with each paragraph on one line, for click to wrap at the terminal's
    width (a docstring wrapped at 88 columns would be wrapped twice). click counts every
    character as one column, so a paragraph with Japanese in it is wrapped here, by display
    width, and marked (\\b) to be kept as it is."""
    if doc is None:
        return None
    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n")]
    return "\n\n".join(_wrap_wide(p) if p.isascii() is False else p for p in paragraphs)


def _wrap_wide(paragraph: str, width: int = 76) -> str:
    """Lines of at most `width` display columns (a Japanese character takes two)."""
    import unicodedata

    lines, line, used = [], "", 0
    for word in paragraph.split(" "):
        size = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in word)
        if line and used + 1 + size > width:
            lines.append(line)
            line, used = word, size
        else:
            line, used = (f"{line} {word}", used + 1 + size) if line else (word, size)
    lines.append(line)
    return "\b\n" + "\n".join(lines) if len(lines) > 1 else paragraph


def command(name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """app.command, with the docstring's paragraphs unwrapped for the help screen."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        return app.command(name, help=_unwrap(func.__doc__))(func)

    return register


def fail(
    message: str,
    kind: OsakaUneiError | type[OsakaUneiError] = BadInputError,
) -> NoReturn:
    """One clear line on stderr and the exit code of the error's kind (errors.EXIT_CODES);
    a traceback only with --debug."""
    if _state["debug"] and sys.exc_info()[0] is not None:
        raise
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code(kind))


def _plain_coercion() -> None:
    """Convert plain parameters (str, int, bool, Path, a StrEnum choice) without pydantic.

    typer (0.2x) converts every command-line value through a pydantic TypeAdapter, and
    importing pydantic costs more than all the rest of `search` or `history` together
    (bench/cli_bench.py). Parameters with constraints this does not check (paths
    that must exist, lists, files, custom parsers) keep typer's own conversion; if typer's
    internals change, this does nothing and only the speed is lost."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = _TyperParameter.get_runtime_param
    path_checks = ("exists", "writable", "resolve_path", "allow_dash", "path_type")

    class Plain(RuntimeParam):
        def _coerce_value(self, value: object, param: object, ctx: object) -> object:
            kind, info = self.annotation, self.parameter_info
            if isinstance(value, kind):
                return value
            if kind is bool:  # a flag's value given as text (an environment variable)
                return str(value).strip().lower() in ("1", "true", "t", "yes", "y", "on")
            if issubclass(kind, StrEnum):
                try:
                    return kind(value)
                except ValueError:
                    choices = ", ".join(repr(member.value) for member in kind)
                    raise BadParameter(f"{value!r} is not one of {choices}.") from None
            if kind is int:
                try:
                    number = int(str(value))
                except ValueError:
                    raise BadParameter(f"{value!r} is not a valid integer.") from None
                low, high = info.min, info.max
                if (low is not None and number < low) or (high is not None and number > high):
                    bounds = " and ".join(
                        f"x{op}{bound}" for op, bound in ((">=", low), ("<=", high)) if bound
                    )
                    raise BadParameter(f"{number} is not in the range {bounds}.")
                return number
            return kind(value)

    def plain(info: object, kind: object) -> bool:
        if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
            return False
        if kind is Path:
            return not any(getattr(info, name, None) for name in path_checks)
        return kind in (str, int, bool) or (isinstance(kind, type) and issubclass(kind, StrEnum))

    def get_runtime_param(self: _TyperParameter) -> RuntimeParam:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            if plain(descriptor.parameter_info, descriptor.annotation):
                self._runtime_param = Plain(descriptor.parameter_info, descriptor.annotation)
        return original(self)

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]  # a patch of typer, on purpose (see the docstring)


_plain_coercion()


def run() -> None:
    """The console script: a bug anywhere is still one line and a non-zero exit, not a
    traceback (`--debug` shows it)."""
    try:
        app()
    except Exception as exc:
        if _state["debug"]:
            raise
        text = " ".join(str(exc).split())[:200]
        typer.echo(
            f"error: internal error ({type(exc).__name__}: {text}); "
            "rerun with --debug for the traceback",
            err=True,
        )
        sys.exit(INTERNAL_ERROR_EXIT)


def _setting(name: str) -> Any:
    """The option of a fetch setting, its name and help from osaka_unei/settings.py."""
    setting = FETCH_SETTINGS[name]
    return typer.Option(setting.option, help=setting.help, hidden=setting.hidden)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


class OutputFormat(StrEnum):
    json = "json"
    summary = "summary"


@command()
def parse(
    source: Annotated[str, typer.Argument(help="A raw page, a text capture, or an address.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="json (default) or summary.")
    ] = OutputFormat.json,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="A mirror of the city's site: fetch the address there."),
    ] = None,
) -> None:
    """Parse one 運営方針 page into JSON or a readable tree.

    An address must be on https://www.city.osaka.lg.jp/ (or on the --base-url mirror);
    anything else is refused before any connection.
    """
    from osaka_unei.fetch.urls import base_url_problem
    from osaka_unei.sources import parse_source
    from osaka_unei.views.summary import render_summary

    if base_url is not None and (problem := base_url_problem(base_url)):
        fail(problem)  # exit 2; credentials are refused, never stored
    policy = parse_source(source, base_url)  # a PageError: one line, exit 2
    for warning in policy.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if output_format is OutputFormat.summary:
        typer.echo(render_summary(policy))
    else:
        # UTF-8 whatever the terminal's locale, Japanese unescaped.
        sys.stdout.buffer.write(policy.model_dump_json(indent=2).encode("utf-8") + b"\n")
        sys.stdout.flush()


# --- fetch stage (issue 3) -------------------------------------------------------------


@command()
def fetch(
    ward: Annotated[
        list[str] | None,
        typer.Option("--ward", help="Only this ward: 北区, 北, kita or 27127 (repeatable)."),
    ] = None,
    year: Annotated[
        list[int] | None, typer.Option("--year", help="Only this fiscal year (repeatable).")
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option("--sources", help="CSV replacing data/registry.csv (only `url` needed)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Replace scheme and host of every address (a mirror)."),
    ] = None,
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="Raw store.")] = DEFAULT_RAW_DIR,
    delay: Annotated[float, _setting("delay")] = FETCH.delay,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not fetch; leave the store as it is.")
    ] = False,
    check_all: Annotated[
        bool, typer.Option("--all", help="Re-check settled pages too (closed fiscal years).")
    ] = False,
    max_age_days: Annotated[int, _setting("max_age_days")] = FETCH.max_age_days,
    deadline: Annotated[float, _setting("deadline")] = FETCH.deadline,
    page_budget: Annotated[float, _setting("page_budget")] = FETCH.page_budget,
    timeout: Annotated[float, _setting("timeout")] = FETCH.timeout,
    connect_timeout: Annotated[float, _setting("connect_timeout")] = FETCH.connect_timeout,
    retries: Annotated[int, _setting("retries")] = FETCH.retries,
    backoff: Annotated[float, _setting("backoff")] = FETCH.backoff,
    max_bytes: Annotated[int, _setting("max_bytes")] = FETCH.max_bytes,
    max_failures: Annotated[
        int, _setting("max_consecutive_failures")
    ] = FETCH.max_consecutive_failures,
) -> None:
    """Download registry pages into data/raw/, every version kept.

    Politely: one request at a time, --delay seconds apart, obeying robots.txt.

    Re-checks only pages that can still change: the current and previous fiscal year,
    drafts, pages never fetched or whose last fetch failed, and pages last checked more
    than --max-age-days ago; --all re-checks every page.

    Ends with one line: fetched / unchanged / failed / incomplete / disallowed counts and
    how many settled pages were not re-checked.

    With --offline, or when the site cannot be reached, it says so in one line,
    writes nothing and exits 0.

    Exit 0: the run completed (failed pages are recorded in the manifest).

    Exit 1: every page failed, or the run stopped after 5 failures in a row.

    Exit 2: bad arguments (a --base-url with a user name or password included: they
    would be written into the manifest) or an unreadable registry.
    """
    from osaka_unei.fetch import (
        FetchOptions,
        Unreachable,
        load_registry,
        run_fetch_with_progress,
        select_pages,
    )
    from osaka_unei.fetch.urls import base_url_problem

    if offline:
        typer.echo(f"offline: not fetching; {raw_dir} left as it is")
        return
    slugs = [_ward(name).slug for name in ward or []]
    if base_url is not None and (problem := base_url_problem(base_url)):
        fail(problem)  # exit 2; credentials are refused, never stored
    registry = sources or DEFAULT_REGISTRY
    try:
        pages = select_pages(load_registry(registry), slugs, year or [])
    except BadInputError as exc:
        fail(f"cannot read {registry}: {exc}", exc)
    if not pages:
        fail("no page in the registry matches --ward / --year")
    options = FetchOptions(
        raw_dir=raw_dir,
        base_url=base_url,
        delay=delay,
        timeout=timeout,
        connect_timeout=connect_timeout,
        retries=retries,
        backoff=backoff,
        max_bytes=max_bytes,
        deadline=deadline,
        page_budget=page_budget,
        max_consecutive_failures=max_failures,
        check_all=check_all,
        max_age_days=max_age_days,
    )
    try:
        summary = run_fetch_with_progress(pages, options)
    except Unreachable as exc:
        typer.echo(f"unreachable: {exc}; not fetching, {raw_dir} left as it is")
        return
    typer.echo(summary.line())
    if summary.stopped:
        fail(summary.stopped, FetchFailedError)
    if summary.all_failed:
        fail("every page failed; see the manifest's messages", FetchFailedError)


@command()
def discover(
    registry: Annotated[
        Path, typer.Option("--registry", help="Registry to grow.")
    ] = DEFAULT_REGISTRY,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Replace scheme and host of every address (a mirror)."),
    ] = None,
    raw_dir: Annotated[
        Path, typer.Option("--raw-dir", help="Stored pages are read here, not refetched.")
    ] = DEFAULT_RAW_DIR,
    delay: Annotated[float, _setting("delay")] = FETCH.delay,
    listing: Annotated[
        list[str] | None, typer.Option("--listing", help="Also read this listing page.")
    ] = None,
    max_pages: Annotated[
        int, typer.Option("--max-pages", help="At most this many pages fetched.")
    ] = 200,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report, but do not write the registry.")
    ] = False,
    deadline: Annotated[float, _setting("deadline")] = FETCH.deadline,
    timeout: Annotated[float, _setting("timeout")] = FETCH.timeout,
    retries: Annotated[int, _setting("retries")] = FETCH.retries,
    backoff: Annotated[float, _setting("backoff")] = FETCH.backoff,
) -> None:
    """Find 運営方針 pages the registry lacks and add them.

    Reads the known pages' links (過去の…運営方針, 策定経過) and listing pages one level deep.

    Prints one line per added page (url, ward slug, fiscal year), then a summary line.

    Stored pages in --raw-dir are read, not refetched; the raw store is never written.
    """
    from osaka_unei.fetch import FetchOptions, load_registry, save_registry
    from osaka_unei.fetch import discover as find_pages
    from osaka_unei.fetch.urls import base_url_problem

    if base_url is not None and (problem := base_url_problem(base_url)):
        fail(problem)  # exit 2; credentials are refused, never stored
    try:
        pages = load_registry(registry)
    except BadInputError as exc:
        fail(f"cannot read {registry}: {exc}", exc)
    options = FetchOptions(
        raw_dir=raw_dir,
        base_url=base_url,
        delay=delay,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        deadline=deadline,
    )
    result = find_pages(pages, options, listings=listing or [], max_fetches=max_pages)
    for page in result.added:
        typer.echo(f"added {page.url} {page.ward_slug or '-'} {page.fiscal_year or '-'}")
    if result.added and not dry_run:
        save_registry(registry, [*pages, *result.added])
    typer.echo(result.line() + ("; dry run, registry not written" if dry_run else ""))


# --- build stage (issue 4) -------------------------------------------------------------


@command()
def build(
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="Raw store.")] = DEFAULT_RAW_DIR,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Dataset folder.")] = DEFAULT_OUT_DIR,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Parse cache.")
    ] = DEFAULT_CACHE_DIR,
    force: Annotated[bool, typer.Option("--force", help="Ignore the parse cache.")] = False,
    allow_shrink: Annotated[
        bool, typer.Option("--allow-shrink", help="Accept a ward losing rows.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for another build in this checkout."),
    ] = 60.0,
) -> None:
    """Parse the raw pages into the dataset in data/processed/.

    Each page's latest version becomes rows of the tables (Parquet, CSV, SQLite).

    The build is published as one unit at stable paths (only changed files are replaced,
    datapackage.json last), so readers see the previous build or the new one, whole.

    Exit 0: tables written (pages that fail to parse are rows of parse_report).

    Exit 1: a check failed; the previous tables are left as they were.

    Exit 2: unreadable raw store or output folder.

    Exit 3: another build held the lock (data/.build.lock) for --wait seconds.
    """
    from osaka_unei.dataset.checks import CheckError
    from osaka_unei.publish.atomic import Busy
    from osaka_unei.publish.run import run_build

    try:
        result = run_build(
            raw_dir, out_dir, cache_dir, force=force, allow_shrink=allow_shrink, wait=wait
        )
    except CheckError as exc:
        fail(f"check failed, nothing written: {exc}", exc)
    except Busy as exc:
        fail(f"{exc}; nothing written", exc)
    report = result.tables["parse_report"]
    for row in report[report["status"] == "error"].itertuples():
        typer.echo(f"  {row.path}: {row.messages}", err=True)
    typer.echo(result.summary(out_dir))


@command("add-capture")
def add_capture(
    file: Annotated[
        Path,
        typer.Argument(help="A text capture, or the page saved from a browser (any encoding)."),
    ],
    url: Annotated[str, typer.Option("--url", help="The page's address.")],
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="Raw store.")] = DEFAULT_RAW_DIR,
) -> None:
    """Store a page saved by hand in the raw store.

    It is recorded with its address (--url), as if it had been fetched.

    The file is parsed first, as `build` will parse it; anything that is not the ward
    運営方針 page --url names, or is larger than 10 MB, is refused with one line (exit 2)
    and nothing is stored.
    """
    import datetime as dt

    from osaka_unei.capture import add_capture as store_capture
    from osaka_unei.capture import read_capture

    try:
        data = read_capture(file)  # at most the fetcher's 10 MB cap
    except OSError as exc:  # the one file the user named
        fail(f"cannot read {file}: {exc.strerror or exc}")
    record, added = store_capture(raw_dir, data, url, dt.datetime.now(dt.UTC))
    state = "stored" if added else "already stored"
    typer.echo(f"{state}: {raw_dir / str(record.path)} ({record.url})")


# --- answers: search, history, changes, the report -------------------------------------
# They read the dataset's SQLite database and load neither pandas nor pyarrow: they answer
# in about the time Python takes to import typer and rich (bench/cli_bench.py).

ProcessedOption = Annotated[Path, typer.Option("--processed-dir", help="The published dataset.")]


class ViewFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    ViewFormat,
    typer.Option("--format", help="table (default), json or csv (one record per row)."),
]


def _write(text: str) -> None:
    """UTF-8 whatever the terminal's locale."""
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.flush()


def _console() -> Console:
    from rich.console import Console

    return Console()


def _say_empty(message: str, output_format: ViewFormat) -> None:
    """An empty answer: said on stdout for a person, on stderr beside a program's `[]`."""
    if output_format is ViewFormat.table:
        typer.echo(message)
    else:
        typer.echo(message, err=True)


def _emit(
    output_format: ViewFormat,
    records: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
    table: Callable[[], Any],
) -> None:
    """A view's answer: its records as JSON or CSV, or `table()` (a rich renderable, or
    None for nothing to show) printed for a person."""
    from osaka_unei.views.text import dumps_csv, dumps_json

    if output_format is ViewFormat.json:
        _write(dumps_json(records))
    elif output_format is ViewFormat.csv:
        _write(dumps_csv(records, fields))
    elif (shown := table()) is not None:
        _console().print(shown)


def _ward(text: str) -> Ward:
    from osaka_unei.wards import resolve_ward

    return resolve_ward(text)  # an unknown ward: BadInputError, one line


def _database(processed_dir: Path) -> sqlite3.Connection:
    from osaka_unei.views.text import DatasetError, open_database

    try:
        return open_database(processed_dir)
    except DatasetError as exc:
        fail(str(exc))


@command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find, in Japanese (any 1+ characters).")],
    ward: Annotated[
        str | None, typer.Option("--ward", help="Only this ward: 北区, 北, kita or 27127.")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="Only this fiscal year.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many hits.")] = 50,
    output_format: FormatOption = ViewFormat.table,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """Find issues, strategies and initiatives by their text.

    Every word must occur in the title or the description (full text, in Japanese). The
    amount is the one every view shows: printed on the page, or the sum of the items below,
    marked (計).
    """
    from osaka_unei.db.search import query_problem
    from osaka_unei.db.search import search as find
    from osaka_unei.views import search as view
    from osaka_unei.views.text import DatasetError, require_columns

    if not query.split():
        fail("give a word to search for, e.g. 防災")
    if problem := query_problem(query):
        fail(problem)
    where = _ward(ward) if ward else None
    conn = _database(processed_dir)
    try:
        require_columns(conn, "nodes", ("node_key", "thousand_yen", "printed"))
        hits = find(conn, query, ward=where.slug if where else None, year=year, limit=limit)
    except DatasetError as exc:
        fail(str(exc))
    except sqlite3.Error as exc:
        fail(f"cannot search {processed_dir}: {exc}")
    finally:
        conn.close()
    if not hits:
        _say_empty(view.empty_message(query, where.name if where else None, year), output_format)
    _emit(
        output_format,
        view.records(hits),
        view.FIELDS,
        lambda: view.hits_table(hits, query) if hits else None,
    )


@command()
def history(
    ward: Annotated[str, typer.Argument(help="A ward: 北区, 北, kita or 27127.")],
    query: Annotated[
        str | None,
        typer.Argument(help="Only items whose title holds this text, and those above them."),
    ] = None,
    output_format: FormatOption = ViewFormat.table,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """A ward's items across years, with their amounts (千円).

    Each year's items sit under their own parents; an item that moved has a row under each.
    An amount is printed on the page, or the sum of the items below, marked (計); — none.
    json and csv give one record per item and year.
    """
    from osaka_unei.views import history as view
    from osaka_unei.views.text import DatasetError

    where = _ward(ward)
    conn = _database(processed_dir)
    try:
        answer = view.history(conn, where, query)
        with_data = view.wards_with_data(conn) if not answer.years else []
    except DatasetError as exc:
        fail(str(exc))
    except sqlite3.Error as exc:
        fail(f"cannot read {processed_dir}: {exc}")
    finally:
        conn.close()
    if not answer.years:
        _say_empty(
            f"{where.name} has no policy in the dataset. Wards with data: "
            f"{', '.join(with_data) or 'none (run `make all`)'}.",
            output_format,
        )
    elif not answer.rows:
        _say_empty(
            f"No item of {where.name} has 「{query}」 in its title in any year. "
            "Try a shorter word, or no word to see every item.",
            output_format,
        )
    _emit(
        output_format,
        answer.records(),
        view.FIELDS,
        lambda: view.history_table(answer, _console().width) if answer.rows else None,
    )


@command()
def changes(
    policy_id: Annotated[
        str, typer.Argument(help="A policy (ward-year): minato-2022 or 港区-2022.")
    ],
    output_format: FormatOption = ViewFormat.table,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """What changed between stored versions of a policy's page.

    Versions in the order they were stored (案 → final → 中間振り返り → 自己評価).

    json and csv give the changes table's records for the policy.
    """
    from osaka_unei.views import changes as view

    conn = _database(processed_dir)
    try:
        stored = view.policy_ids(conn)
        policy_id = _policy_id(policy_id, stored)
        versions = view.read_versions(conn, policy_id)
        rows = view.read_changes(conn, policy_id)
    except sqlite3.Error as exc:
        fail(f"cannot read {processed_dir}: {exc}")
    finally:
        conn.close()
    _emit(output_format, rows, view.FIELDS, lambda: view.changes_view(versions, rows, policy_id))


lineage_app = _App(help="Lineage: the links across years and their review.", rich_markup_mode=None)
app.add_typer(lineage_app, name="lineage")


def _load_tables(processed_dir: Path, *names: str) -> dict[str, Any]:
    """The named tables of the published dataset, or one line saying to build it."""
    from osaka_unei.dataset.load import load

    return {name: load(name, processed_dir) for name in names}  # NotBuiltError: one line


@lineage_app.command(
    "review",
    help=_unwrap(
        """Near misses of a ward's lineage, each with a join and an apart line to paste.

    The lines go into data/lineage-overrides.csv: join (the same item) or apart (different
    items, never linked and off the queue); the next build applies them."""
    ),
)
def lineage_review(
    ward: Annotated[str, typer.Argument(help="A ward: 港区, 港, minato or 27107.")],
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    from osaka_unei.views.lineage_review import render_review

    tables = _load_tables(processed_dir, "lineage_candidates", "nodes")
    text = render_review(tables.pop("lineage_candidates"), tables, ward)
    typer.echo(text)


def _policy_id(text: str, stored: list[str]) -> str:
    """minato-2022, 港区-2022, 港-2022 or 27107-2022 → minato-2022, if stored; else a
    one-line error listing the stored ones (of that ward, where the ward is known)."""
    from osaka_unei.wards import resolve_ward

    ward_text, _, year = text.strip().rpartition("-")
    try:
        slug = resolve_ward(ward_text).slug if ward_text else None
    except BadInputError:
        slug = None
    candidate = f"{slug}-{year}" if slug else text
    if candidate in stored:
        return candidate
    mine = [pid for pid in stored if slug and pid.startswith(f"{slug}-")]
    listed = mine or stored
    fail(
        f"no stored version of {text}; policy ids are ward-year, e.g. minato-2022; "
        f"stored{' for this ward' if mine else ''}: {', '.join(listed) or 'none'}"
    )


@command()
def report(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the static site goes.")
    ] = DEFAULT_REPORT_DIR,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="Raw store.")] = DEFAULT_RAW_DIR,
    registry: Annotated[
        Path, typer.Option("--registry", help="Known page addresses.")
    ] = DEFAULT_REGISTRY,
) -> None:
    """Write the static report (the site) to --out-dir.

    Coverage, budgets, themes, and a page per ward and per year.
    """
    from osaka_unei.publish.report import write_report

    written = write_report(processed_dir, raw_dir, registry, out_dir)  # Busy: exit 3
    typer.echo(f"report: {len(written)} files in {out_dir} (open {out_dir / 'index.html'})")


if __name__ == "__main__":
    run()
