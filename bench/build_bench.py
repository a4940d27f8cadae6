"""The whole build, timed by phase: `run_build` on a synthetic raw store, in a child process
(one core under taskset, peak RSS from wait4), then a no-op rebuild, then the report.

The phases are timed in the child by wrapping the functions `run_build` calls, by name, in
the modules that call them (osaka_unei.publish.run, .derive, .outputs), so the build timed
is the real one, untouched; a name a refactor removed is simply not timed (its time shows
under "other"). The search index is timed apart after the build, on the build's own tables.

    PYTHONPATH=src python bench/build_bench.py --pages 1000 [--no-report]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# (module, function name, phase): every call's time is added to its phase. A phase that
# nests in another (lineage in derive) is reported apart and not double-counted in "other".
WRAPPED = (
    ("osaka_unei.publish.run", "_parse_one", "parse"),
    ("osaka_unei.publish.run", "flatten", "flatten"),
    ("osaka_unei.publish.run", "make_tables", "tables"),
    ("osaka_unei.publish.run", "check_tables", "checks"),
    ("osaka_unei.publish.run", "check_shrink", "checks"),
    ("osaka_unei.publish.run", "check_derived", "checks"),
    ("osaka_unei.publish.run", "versions_table", "versions"),
    ("osaka_unei.publish.run", "changes_table", "versions"),
    ("osaka_unei.publish.run", "_derive", "derive"),
    ("osaka_unei.publish.derive", "lineage_tables", "derive.lineage"),
    ("osaka_unei.publish.derive", "tag_nodes", "derive.themes"),
    ("osaka_unei.publish.derive", "add_sdgs", "derive.themes"),
    ("osaka_unei.publish.derive", "nodes_table", "derive.nodes"),
    # the memo of the last build's units (publish.units): read, merged with the units built
    # again, written
    ("osaka_unei.publish.units", "load", "memo"),
    ("osaka_unei.publish.units", "save", "memo"),
    ("osaka_unei.publish.units", "Memo.merge", "memo"),
    # publish_outputs renders the files, builds the database and publishes, in that order
    ("osaka_unei.publish.run", "publish_outputs", "publish"),
    ("osaka_unei.publish.run", "render_outputs", "publish.render"),
    ("osaka_unei.publish.outputs", "parquet_bytes", "publish.render parquet"),
    ("osaka_unei.publish.outputs", "csv_bytes", "publish.render csv"),
    ("osaka_unei.publish.run", "write_database_into", "publish.database"),
)
TOP_PHASES = ("parse", "flatten", "tables", "versions", "checks", "derive", "memo", "publish")
# The report's phases: read the tables, draw the pages, publish the folder (of which: fsync
# the files that changed).
REPORT_WRAPPED = (
    ("osaka_unei.publish.report", "load", "load"),
    ("osaka_unei.report", "render_site", "render"),
    ("osaka_unei.publish.report", "publish_outputs", "publish"),
    ("osaka_unei.publish.atomic", "fsync_files", "publish.fsync"),
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(function: Callable[..., Any], phase: str, seconds: dict[str, float]) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start
            # The peak so far when the phase (last) ended: where the memory goes.
            seconds["peak_rss_mb." + phase] = peak_rss_mb()

    return wrapper


@contextlib.contextmanager
def phase_timers(wrapped: tuple[tuple[str, str, str], ...] = WRAPPED) -> Iterator[dict[str, float]]:
    """Seconds per phase while the block runs; the wrapped names are restored after."""
    seconds: dict[str, float] = {}
    undo = []
    for module_name, name, phase in wrapped:
        owner: Any = importlib.import_module(module_name)
        *outer, name = name.split(".")  # a method: Class.method
        for part in outer:
            owner = getattr(owner, part)
        function = getattr(owner, name, None)
        if function is None:
            continue
        undo.append((owner, name, function))
        setattr(owner, name, _timed(function, phase, seconds))
    try:
        yield seconds
    finally:
        for owner, name, function in undo:
            setattr(owner, name, function)


def search_index(tables: Mapping[str, Any]) -> dict[str, float]:
    """Build the bigram FTS index alone (in memory, as the build does) from the build's
    tables: seconds, and its size once vacuumed."""
    from osaka_unei.db import fts
    from osaka_unei.db.nodes import make_nodes
    from osaka_unei.db.sqlite import _fts_rows

    start = time.perf_counter()
    nodes = make_nodes(dict(tables))
    conn = sqlite3.connect(":memory:")
    try:
        with conn:
            conn.execute(fts.create_fts_sql())
            conn.executemany(fts.insert_fts_sql(), _fts_rows(nodes))
            conn.execute(f"INSERT INTO {fts.FTS} ({fts.FTS}) VALUES ('optimize')")
        seconds = time.perf_counter() - start
        conn.execute("VACUUM")
        size = len(conn.serialize())
    finally:
        conn.close()
    return {"seconds": round(seconds, 3), "size_mb": round(size / 1e6, 2), "rows": len(nodes)}


def child(args: argparse.Namespace) -> int:
    """In the child process: one instrumented build (or the report), timings to a file."""
    figures: dict[str, Any] = {}
    start = time.perf_counter()
    if args.report:
        from osaka_unei.publish.report import write_report
        from osaka_unei.report import read_digests
        from osaka_unei.store import resolve_published

        figures["import_seconds"] = round(time.perf_counter() - start, 3)
        before = read_digests(resolve_published(args.report)) if args.report.exists() else {}
        start = time.perf_counter()
        with phase_timers(REPORT_WRAPPED) as seconds:
            written = write_report(args.out, args.raw, args.raw / "no-registry.csv", args.report)
        figures["phases"] = {
            name: round(value, 3)
            for name, value in sorted(seconds.items())
            if not name.startswith("peak_rss_mb.")
        }
        after = read_digests(resolve_published(args.report))
        figures["pages"] = len(after)
        figures["pages_redrawn"] = sum(before.get(name) != digest for name, digest in after.items())
        figures["files"] = len(written)
        figures["size_mb"] = round(
            sum((args.report / name).stat().st_size for name in written) / 1e6, 2
        )
    else:
        from osaka_unei.publish.run import run_build

        figures["import_seconds"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        with phase_timers() as seconds:
            result = run_build(args.raw, args.out, args.cache, data_dir=args.data)
        total = time.perf_counter() - start
        top = {name: round(seconds.get(name, 0.0), 3) for name in TOP_PHASES}
        figures["phases"] = top | {
            name: round(value, 3)
            for name, value in sorted(seconds.items())
            if "." in name and not name.startswith("peak_rss_mb.")
        }
        figures["peak_rss_mb_after"] = {
            name: round(seconds["peak_rss_mb." + name], 1)
            for name in TOP_PHASES
            if "peak_rss_mb." + name in seconds
        }
        figures["phases"]["other"] = round(total - sum(top.values()), 3)
        figures["parsed"], figures["cached"] = result.parsed, result.cached
        figures["written"] = sorted(result.written)
        figures["rows"] = {name: len(frame) for name, frame in result.tables.items()}
        if args.search_index:
            figures["search_index"] = search_index(result.tables)
    figures["seconds"] = round(time.perf_counter() - start, 3)
    args.timings.write_text(json.dumps(figures, ensure_ascii=False))
    return 0


# --- in the bench process ---------------------------------------------------------------------


def write_raw_store(raw_dir: Path, pages: list[Any]) -> None:
    """Each page's versions stored as `fetch` stores them, a day apart, in one manifest."""
    from osaka_unei.models import RawRecord
    from osaka_unei.store import append_manifest, sha256_hex, store_version

    base = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    records = []
    for page in pages:
        relpath = store_version(raw_dir, page.ward_slug, page.page_id, page.data, "html")
        records.append(
            RawRecord(
                url=page.url,
                final_url=page.url,
                status=200,
                fetched_at=base + dt.timedelta(days=page.version),
                content_type="text/html",
                sha256=sha256_hex(page.data),
                size=len(page.data),
                outcome="fetched",
                path=relpath,
                ward_slug=page.ward_slug,
                fiscal_year=page.fiscal_year,
                page_id=page.page_id,
            )
        )
    append_manifest(raw_dir, records)


def write_build_store(raw_dir: Path, n_pages: int = 100, seed: int = 0) -> list[Any]:
    """A raw store of the benchmark's shape (make_build_corpus: the 24 wards in turn, a fiscal
    year after another, 4 versions a page), with n_pages stored versions: the 1,000-version
    store of `make bench` at a size a test can build in a few seconds. Returns the pages."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from corpus import load_sources, make_build_corpus

    pages = make_build_corpus(load_sources(), n_pages, seed)
    write_raw_store(raw_dir, pages)
    return pages


def run_child(options: list[str], one_core: bool, log: Path) -> dict[str, Any]:
    """This file as a child process; its figures, exit code and peak RSS (MB)."""
    timings = log.with_suffix(".json")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *options]
    command += ["--timings", str(timings)]
    taskset = shutil.which("taskset")
    if one_core and taskset:
        command = [taskset, "-c", "0", *command]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src")])))
    # What the previous step left for the disk to write is written now, not during this
    # step's fsyncs: each step is timed from the same clean page cache (as a user's build,
    # run a day after the last, would be).
    os.sync()
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        # wait4: the peak RSS of this child alone, not of every child so far.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    figures: dict[str, Any] = json.loads(timings.read_text()) if timings.is_file() else {}
    figures |= {
        "exit_code": code,
        "wall_seconds": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "one_core": bool(one_core and taskset),
    }
    if code != 0:
        figures["log_tail"] = log.read_text(errors="replace").strip().splitlines()[-5:]
    return figures


REPORT_KEYS = (
    "seconds",
    "phases",
    "import_seconds",
    "files",
    "pages",
    "pages_redrawn",
    "size_mb",
    "peak_rss_mb",
    "exit_code",
    "log_tail",
)


def new_version(pages: list[Any]) -> Any:
    """One more version of the first page: its latest version with the first amount on it
    raised by one (千円 or 百万円), stored a day after every other version."""
    import dataclasses
    import re

    first = pages[0]
    same = [p for p in pages if (p.ward_slug, p.page_id) == (first.ward_slug, first.page_id)]
    latest = max(same, key=lambda p: p.version)
    data = re.sub(
        rb"(\d+)(?=(?:\xe5\x8d\x83\xe5\x86\x86|\xe7\x99\xbe\xe4\xb8\x87\xe5\x86\x86))",
        lambda m: str(int(m.group(1)) + 1).encode(),
        latest.data,
        count=1,
    )
    assert data != latest.data, "no amount to change"
    return dataclasses.replace(latest, data=data, version=max(p.version for p in pages) + 1)


def work_dir() -> Path:
    """Where the stores are built: $OSAKA_UNEI_BENCH_DIR, else bench/.work in the checkout,
    on the file system the pipeline writes data/ to in real use. A machine's /tmp can be
    another matter: on the VM of session 25, creating a file in a new folder under /tmp
    took 0.6 ms, under the checkout 0.03 ms, and the report creates ~900 of them."""
    folder = Path(os.environ.get("OSAKA_UNEI_BENCH_DIR") or BENCH / ".work")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the fewest seconds among those that succeeded, with every run's seconds
    (`seconds_runs`): the file system's journal commits make one run of ~900 file creations
    vary by ±0.3 s, so each goal's step is run several times and its best kept."""
    ok = [run for run in runs if run.get("exit_code") == 0] or runs
    best = min(ok, key=lambda run: float(run.get("seconds") or "inf"))
    return best | {"seconds_runs": [run.get("seconds") for run in runs]}


ONE_BUILD_KEYS = ("seconds", "phases", "import_seconds", "parsed", "cached", "peak_rss_mb")


def measure_report(
    pages: list[Any], raw: Path, options: list[str], base: Path, one_core: bool, repeat: int = 1
) -> dict[str, Any]:
    """The report of the whole store (drawn from nothing `repeat` times, the best kept),
    then `repeat` times one page gets a new version, and the build and the report run again
    (only the pages whose inputs changed are drawn): each step's best run is kept."""
    site = base / "site"
    fulls = []
    for _ in range(repeat):
        shutil.rmtree(site, ignore_errors=True)
        fulls.append(run_child([*options, "--report", str(site)], one_core, base / "report.log"))
    full = best_of(fulls)
    figures: dict[str, Any] = {
        "report": {k: full[k] for k in (*REPORT_KEYS, "seconds_runs") if k in full}
    }
    if full["exit_code"] != 0:
        return figures
    steps = []
    added: list[Any] = []
    for _ in range(repeat):  # a new version after another: each a real incremental step
        added.append(new_version([*pages, *added]))
        write_raw_store(raw, [added[-1]])
        build = run_child(options, one_core, base / "build-one.log")
        report = run_child([*options, "--report", str(site)], one_core, base / "report-one.log")
        steps.append((build, report))
    # Each step's best run, as for the full build and report (the ratio's denominator).
    build = best_of([b for b, _ in steps])
    report = best_of([r for _, r in steps])
    figures["one_new_version"] = {
        "build": {k: build.get(k) for k in (*ONE_BUILD_KEYS, "exit_code")},
        "report": {k: report[k] for k in REPORT_KEYS if k in report},
        "seconds_runs": [[b.get("seconds"), r.get("seconds")] for b, r in steps],
    }
    return figures


def measure_build(
    pages: list[Any], *, report: bool = True, one_core: bool = True, repeat: int = 1
) -> dict[str, Any]:
    """Build from scratch (`repeat` times, each from nothing, the best kept), rebuild with
    nothing changed, and (if asked) render the report (measure_report)."""
    with tempfile.TemporaryDirectory(prefix="osaka-unei-bench-", dir=work_dir()) as tmp:
        base = Path(tmp)
        raw, out, cache = base / "raw", base / "out", base / "cache"
        write_raw_store(raw, pages)
        (base / "data").mkdir()  # no curated overrides
        options = ["--raw", str(raw), "--out", str(out), "--cache", str(cache)]
        options += ["--data", str(base / "data")]
        builds = []
        for n in range(repeat):
            if n:
                for folder in (out, cache):
                    shutil.rmtree(folder, ignore_errors=True)
            extra = ["--search-index"] if n == 0 else []
            builds.append(run_child([*options, *extra], one_core, base / "build.log"))
        first = best_of(builds)
        if "search_index" in builds[0]:
            first["search_index"] = builds[0]["search_index"]
        figures: dict[str, Any] = {
            "pages": len(pages),
            "policies": len({(page.ward, page.fiscal_year) for page in pages}),
            "versions_per_page": max((page.version for page in pages), default=0) + 1,
            "build": first,
        }
        if first["exit_code"] == 0:
            again = run_child(options, one_core, base / "rebuild.log")
            figures["noop_rebuild"] = {
                key: again.get(key)
                for key in ("seconds", "parsed", "cached", "written", "phases", "peak_rss_mb")
            }
            if report:
                figures |= measure_report(pages, raw, options, base, one_core, repeat)
        figures["output_mb"] = round(
            sum(path.stat().st_size for path in out.glob("*") if path.is_file()) / 1e6, 1
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--timings", type=Path)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--search-index", action="store_true")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each step, best kept")
    parser.add_argument("--keep", type=Path, help="write the raw store here and keep it")
    args = parser.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, str(BENCH))
    from corpus import load_sources, make_build_corpus

    pages = make_build_corpus(load_sources(), args.pages, args.seed)
    if args.keep:
        write_raw_store(args.keep, pages)
        return 0
    figures = measure_build(pages, report=not args.no_report, repeat=args.repeat)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
