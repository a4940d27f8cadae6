"""The `osaka-unei` command line: one command per stage, thin wrappers over the library."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from osaka_unei.store import (
    DEFAULT_CACHE_DIR,
    DEFAULT_OUT_DIR,
    DEFAULT_RAW_DIR,
    DEFAULT_REGISTRY,
    DEFAULT_REPORT_DIR,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Osaka City ward 運営方針 pages → a tidy dataset.",
)

_state = {"debug": False}


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit; a traceback only with --debug."""
    if _state["debug"] and sys.exc_info()[0] is not None:
        raise
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


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
        sys.exit(70)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


class OutputFormat(StrEnum):
    json = "json"
    summary = "summary"


@app.command()
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
    """Parse one ward 運営方針 page and print it as JSON or as a readable tree.

    An address must be on https://www.city.osaka.lg.jp/ (or on the --base-url mirror);
    anything else is refused before any connection.
    """
    from osaka_unei.fetch.urls import base_url_problem
    from osaka_unei.parse import PageError, render_summary
    from osaka_unei.sources import parse_source

    if base_url is not None and (problem := base_url_problem(base_url)):
        fail(problem)  # exit 2; credentials are refused, never stored
    try:
        policy = parse_source(source, base_url)
    except PageError as exc:
        fail(str(exc))
    for warning in policy.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if output_format is OutputFormat.summary:
        typer.echo(render_summary(policy))
    else:
        # UTF-8 whatever the terminal's locale, Japanese unescaped.
        sys.stdout.buffer.write(policy.model_dump_json(indent=2).encode("utf-8") + b"\n")
        sys.stdout.flush()


# --- fetch stage (issue 3) -------------------------------------------------------------


@app.command()
def fetch(
    ward: Annotated[
        list[str] | None, typer.Option("--ward", help="Only this ward slug (repeatable).")
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
    delay: Annotated[
        float, typer.Option("--delay", help="Seconds between two requests (at least).")
    ] = 1.0,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not fetch; leave the store as it is.")
    ] = False,
    check_all: Annotated[
        bool, typer.Option("--all", help="Re-check settled pages too (closed fiscal years).")
    ] = False,
    max_age_days: Annotated[
        int, typer.Option("--max-age-days", help="Re-check a settled page checked longer ago.")
    ] = 30,
    deadline: Annotated[
        float, typer.Option("--deadline", help="Seconds one request may take, headers and body.")
    ] = 30.0,
    page_budget: Annotated[
        float, typer.Option("--page-budget", help="Seconds one page may take, retries included.")
    ] = 120.0,
    timeout: Annotated[float, typer.Option("--timeout", hidden=True)] = 20.0,
    connect_timeout: Annotated[float, typer.Option("--connect-timeout", hidden=True)] = 5.0,
    retries: Annotated[int, typer.Option("--retries", hidden=True)] = 4,
    backoff: Annotated[float, typer.Option("--backoff", hidden=True)] = 1.0,
    max_bytes: Annotated[int, typer.Option("--max-bytes", hidden=True)] = 10 * 1024 * 1024,
    max_failures: Annotated[int, typer.Option("--max-failures", hidden=True)] = 5,
) -> None:
    """Download registry pages into data/raw/, politely, keeping every version.

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
    from osaka_unei.wards import SLUG_WARDS

    if offline:
        typer.echo(f"offline: not fetching; {raw_dir} left as it is")
        return
    unknown = sorted(set(ward or []) - set(SLUG_WARDS))
    if unknown:
        fail(f"unknown ward slug: {', '.join(unknown)}")
    if base_url is not None and (problem := base_url_problem(base_url)):
        fail(problem)  # exit 2; credentials are refused, never stored
    registry = sources or DEFAULT_REGISTRY
    try:
        pages = select_pages(load_registry(registry), ward or [], year or [])
    except (OSError, ValueError) as exc:
        fail(f"cannot read {registry}: {exc}")
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
    except ValueError as exc:  # a damaged manifest
        fail(str(exc))
    typer.echo(summary.line())
    if summary.stopped:
        fail(summary.stopped, 1)
    if summary.all_failed:
        fail("every page failed; see the manifest's messages", 1)


@app.command()
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
    delay: Annotated[
        float, typer.Option("--delay", help="Seconds between two requests (at least).")
    ] = 1.0,
    listing: Annotated[
        list[str] | None, typer.Option("--listing", help="Also read this listing page.")
    ] = None,
    max_pages: Annotated[
        int, typer.Option("--max-pages", help="At most this many pages fetched.")
    ] = 200,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report, but do not write the registry.")
    ] = False,
    deadline: Annotated[
        float, typer.Option("--deadline", help="Seconds one request may take, headers and body.")
    ] = 30.0,
    timeout: Annotated[float, typer.Option("--timeout", hidden=True)] = 20.0,
    retries: Annotated[int, typer.Option("--retries", hidden=True)] = 4,
    backoff: Annotated[float, typer.Option("--backoff", hidden=True)] = 1.0,
) -> None:
    """Find ward 運営方針 pages the registry lacks and add them to the registry.

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
    except (OSError, ValueError) as exc:
        fail(f"cannot read {registry}: {exc}")
    options = FetchOptions(
        raw_dir=raw_dir,
        base_url=base_url,
        delay=delay,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        deadline=deadline,
    )
    try:
        result = find_pages(pages, options, listings=listing or [], max_fetches=max_pages)
    except ValueError as exc:  # a damaged manifest
        fail(str(exc))
    for page in result.added:
        typer.echo(f"added {page.url} {page.ward_slug or '-'} {page.fiscal_year or '-'}")
    if result.added and not dry_run:
        save_registry(registry, [*pages, *result.added])
    typer.echo(result.line() + ("; dry run, registry not written" if dry_run else ""))


# --- build stage (issue 4) -------------------------------------------------------------


@app.command()
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
    """Parse the latest version of every raw page into tables in data/processed/.

    The build is published as one unit: data/processed is a symlink to data/builds/<id>/,
    swapped in one rename, so readers see the previous build or the new one, whole.

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
        fail(f"check failed, nothing written: {exc}", code=1)
    except Busy as exc:
        fail(f"{exc}; nothing written", code=3)
    except (OSError, ValueError) as exc:
        fail(" ".join(str(exc).split()))  # pydantic's manifest errors span several lines
    report = result.tables["parse_report"]
    for row in report[report["status"] == "error"].itertuples():
        typer.echo(f"  {row.path}: {row.messages}", err=True)
    typer.echo(result.summary(out_dir))


@app.command("add-capture")
def add_capture(
    file: Annotated[
        Path,
        typer.Argument(help="A text capture, or the page saved from a browser (any encoding)."),
    ],
    url: Annotated[str, typer.Option("--url", help="The page's address.")],
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="Raw store.")] = DEFAULT_RAW_DIR,
) -> None:
    """Store a page saved by hand in the raw store, recorded with its address.

    The file is parsed first, as `build` will parse it; anything that is not the ward
    運営方針 page --url names, or is larger than 10 MB, is refused with one line (exit 2)
    and nothing is stored.
    """
    import datetime as dt

    from osaka_unei.capture import add_capture as store_capture
    from osaka_unei.capture import read_capture

    try:
        data = read_capture(file)  # at most the fetcher's 10 MB cap
        record, added = store_capture(raw_dir, data, url, dt.datetime.now(dt.UTC))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(str(exc))
    state = "stored" if added else "already stored"
    typer.echo(f"{state}: {raw_dir / str(record.path)} ({record.url})")


# --- answers: search, history, changes, the report -------------------------------------

ProcessedOption = Annotated[Path, typer.Option("--processed-dir", help="The published dataset.")]


def _load_tables(processed_dir: Path, *names: str) -> dict:
    """The named tables of the published dataset, or one line saying to build it."""
    from osaka_unei.dataset.load import load

    try:
        return {name: load(name, processed_dir) for name in names}
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find (Japanese: any 1+ characters).")],
    ward: Annotated[
        str | None, typer.Option("--ward", help="Only this ward (北区 or kita).")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="Only this fiscal year.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many hits.")] = 50,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """Find issues, strategies and initiatives by their title or description (full text)."""
    import sqlite3

    from rich.console import Console

    from osaka_unei.db.datasette import DATABASE_FILE
    from osaka_unei.db.search import query_problem, render_hits
    from osaka_unei.db.search import search as find

    if problem := query_problem(query):
        fail(problem)
    database = processed_dir / DATABASE_FILE
    if not database.is_file():
        fail(f"{database} not found: run `make all` to build the dataset")
    try:
        hits = find(database, query, ward=ward, year=year, limit=limit)
    except sqlite3.Error as exc:
        fail(f"cannot search {database}: {exc}")
    Console().print(render_hits(hits))


@app.command()
def history(
    ward: Annotated[str, typer.Argument(help="A ward: kita, 北区 or 北.")],
    query: Annotated[
        str | None, typer.Argument(help="Only items whose title holds this text.")
    ] = None,
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """A ward's items followed across years, with their budget (千円) per year."""
    from rich.console import Console

    from osaka_unei.analysis.lineage_view import render_history

    tables = _load_tables(processed_dir, "lineage", "issues", "strategies", "initiatives")
    try:
        table = render_history(
            tables["lineage"],
            tables["issues"],
            tables["strategies"],
            tables["initiatives"],
            ward,
            query,
        )
    except ValueError as exc:
        fail(str(exc))
    Console().print(table)


@app.command()
def changes(
    policy_id: Annotated[str, typer.Argument(help="A policy, e.g. minato-2022.")],
    processed_dir: ProcessedOption = DEFAULT_OUT_DIR,
) -> None:
    """What changed between the stored versions of one policy's page (案 → final → …)."""
    from osaka_unei.analysis.changes import render_changes

    tables = _load_tables(processed_dir, "changes", "versions")
    if policy_id not in set(tables["versions"]["policy_id"].dropna()):
        fail(f"no stored version of {policy_id} (policy ids look like minato-2022)")
    typer.echo(render_changes(tables["changes"], tables["versions"], policy_id))


@app.command()
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
    """Write the static report (coverage, budgets, themes, ward and year pages) to out_dir."""
    from osaka_unei.publish.atomic import Busy
    from osaka_unei.publish.report import write_report

    try:
        written = write_report(processed_dir, raw_dir, registry, out_dir)
    except Busy as exc:
        fail(str(exc), code=3)
    except (OSError, ValueError) as exc:
        fail(" ".join(str(exc).split()))
    typer.echo(f"report: {len(written)} files in {out_dir} (open {out_dir / 'index.html'})")
