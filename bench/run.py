"""`make bench`: parse_page against the bare Lexbor floor, the steps it cannot skip and a
BeautifulSoup extraction, then `osaka-unei build` of 1,000 pages on one core. Prints a table,
writes results.json.

Every timed round has its own pages (see corpus.py) and the four measurements of a round
read the same pages, in a rotating order so that none always runs on a warm heap.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import bs4
import selectolax
from baselines import bs4_lines, lexbor_floor, required_steps
from corpus import ROOT, Page, load_sources, make_round, tree_counts

from osaka_unei import parse_page
from osaka_unei.models import PARSER_VERSION, RawRecord
from osaka_unei.parse import PageError
from osaka_unei.parse.extract import extract
from osaka_unei.store import append_manifest, sha256_hex, store_version

RESULTS = Path(__file__).resolve().parent / "results.json"
GOALS = {
    "parse_vs_lexbor_max": 5.0,
    "parse_vs_lexbor_aim": 3.0,
    "bs4_vs_parse_min": 10.0,
    "build_seconds_max": 10.0,
    "peak_memory_mb_max": 500.0,
}

Method = Callable[[Page], object]
# A page's parse_page result as a dict, for required_steps to validate (made untimed).
POLICY_FIELDS: dict[bytes, dict[str, object] | None] = {}
METHODS: dict[str, Method] = {
    "parse_page": lambda page: parse_page(page.data, url=page.url),
    "lexbor_floor": lambda page: lexbor_floor(page.data),
    "required_steps": lambda page: required_steps(page.data, POLICY_FIELDS[page.data]),
    "bs4_baseline": lambda page: bs4_lines(page.data),
}


def keep_policy_fields(pages: list[Page]) -> None:
    """POLICY_FIELDS for one round's pages only: kept for every round, they would add
    ~30 MB to the peak RSS the bench reports."""
    POLICY_FIELDS.clear()
    for page in pages:
        try:
            POLICY_FIELDS[page.data] = parse_page(page.data, url=page.url).model_dump()
        except PageError:
            POLICY_FIELDS[page.data] = None


def check_corpus(pages: list[Page]) -> dict[str, object]:
    """Untimed: every page parses to the tree of its fixture, and bs4 finds the same lines."""
    mismatched = []
    for page in pages:
        try:
            policy = parse_page(page.data, url=page.url)
        except PageError as exc:
            mismatched.append(f"{page.source} as {page.ward} {page.fiscal_year}: {exc}")
            continue
        if (policy.ward, policy.fiscal_year, tree_counts(policy)) != (
            page.ward,
            page.fiscal_year,
            page.counts,
        ):
            mismatched.append(f"{page.source} as {page.ward} {page.fiscal_year}: tree differs")
    ours = theirs = common = 0
    for page in pages:
        lines = {line.text.lstrip("・ ") for line in extract(page.data).lines}
        found = {text for text, _ in bs4_lines(page.data)}
        ours, theirs, common = ours + len(lines), theirs + len(found), common + len(lines & found)
    return {
        "pages": len(pages),
        "distinct_pages": len({page.data for page in pages}),
        "mismatched": mismatched,
        "bs4_line_agreement": round(common / max(ours, 1), 3),
        "bs4_lines_per_page": round(theirs / max(len(pages), 1), 1),
        "parse_lines_per_page": round(ours / max(len(pages), 1), 1),
    }


def time_round(pages: list[Page], order: list[str]) -> dict[str, float]:
    keep_policy_fields(pages)  # untimed
    rates = {}
    for name in order:
        method = METHODS[name]
        gc.collect()
        start = time.perf_counter()
        for page in pages:
            with contextlib.suppress(PageError):
                method(page)
        rates[name] = len(pages) / (time.perf_counter() - start)
    POLICY_FIELDS.clear()
    return rates


def parse_memory(pages: list[Page]) -> float:
    """Peak traced allocation (MB) while parsing one round, results kept as a build would."""
    gc.collect()
    tracemalloc.start()
    kept = [parse_page(page.data, url=page.url) for page in pages]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return peak / 1e6


def profile(pages: list[Page], limit: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for page in pages:
        parse_page(page.data, url=page.url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


# --- osaka-unei build of 1,000 pages ------------------------------------------------------


def _cli() -> Path:
    return Path(sys.executable).with_name("osaka-unei")


def build_ready() -> str | None:
    """None when `osaka-unei build` takes a raw and an out dir, else why not."""
    cli = _cli()
    if not cli.exists():
        return f"{cli} not installed (make venv)"
    done = subprocess.run([cli, "build", "--help"], capture_output=True, text=True, check=False)
    needed = ("--raw-dir", "--out-dir", "--cache-dir")
    if done.returncode != 0 or not all(option in done.stdout for option in needed):
        return "osaka-unei build does not take --raw-dir/--out-dir/--cache-dir yet"
    return None


def write_raw_store(raw_dir: Path, pages: list[Page]) -> None:
    records = []
    fetched_at = dt.datetime.now(dt.UTC)
    for page in pages:
        relpath = store_version(raw_dir, page.ward_slug, page.page_id, page.data, "html")
        records.append(
            RawRecord(
                url=page.url,
                final_url=page.url,
                status=200,
                fetched_at=fetched_at,
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


def run_build(pages: list[Page]) -> dict[str, object]:
    reason = build_ready()
    if reason is not None:
        return {"skipped": reason}
    with tempfile.TemporaryDirectory(prefix="osaka-unei-bench-") as tmp:
        base = Path(tmp)
        write_raw_store(base / "raw", pages)
        command = [
            str(_cli()),
            "build",
            "--raw-dir",
            str(base / "raw"),
            "--out-dir",
            str(base / "out"),
            "--cache-dir",
            str(base / "cache"),
        ]
        taskset = shutil.which("taskset")
        if taskset:
            command = [taskset, "-c", "0", *command]
        with (base / "stdout").open("wb") as out, (base / "stderr").open("wb") as err:
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=err)
            # wait4: the peak RSS of this child alone, not of every child so far.
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = (base / "stderr").read_text(errors="replace").strip().splitlines()
        stdout = (base / "stdout").read_text(errors="replace").strip().splitlines()
        outputs = sorted(
            path.name for path in (base / "out").rglob("*") if path.suffix == ".parquet"
        )
    return {
        "pages": len(pages),
        "seconds": round(seconds, 2),
        "pages_per_second": round(len(pages) / seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit_code": process.returncode,
        "one_core": bool(taskset),
        "parquet_files": outputs,
        "summary": stdout[-1] if stdout else None,
        "stderr_tail": stderr[-3:],
    }


# --- report ---------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "selectolax": selectolax.__version__,
        "beautifulsoup4": bs4.__version__,
        "parser_version": PARSER_VERSION,
        "git_commit": commit or None,
    }


def summarise(rounds: list[dict[str, float]]) -> dict[str, object]:
    figures: dict[str, object] = {}
    for name in METHODS:
        rates = [r[name] for r in rounds]
        figures[name] = {
            "pages_per_second_median": round(statistics.median(rates), 1),
            "pages_per_second_min": round(min(rates), 1),
            "pages_per_second_max": round(max(rates), 1),
            "ms_per_page_median": round(1000 / statistics.median(rates), 3),
        }
    # Ratios per round, then the median: both sides of a ratio saw the same pages.
    figures["ratio_parse_vs_lexbor"] = round(
        statistics.median(r["lexbor_floor"] / r["parse_page"] for r in rounds), 2
    )
    # The stack's share: what parse_page cannot skip, with no rules (see baselines.py).
    figures["ratio_required_vs_lexbor"] = round(
        statistics.median(r["lexbor_floor"] / r["required_steps"] for r in rounds), 2
    )
    figures["ratio_bs4_vs_parse"] = round(
        statistics.median(r["parse_page"] / r["bs4_baseline"] for r in rounds), 2
    )
    return figures


def print_table(results: dict[str, object]) -> None:
    figures = results["figures"]
    assert isinstance(figures, dict)
    print(f"\n{'method':<16}{'pages/s':>12}{'ms/page':>10}{'min':>10}{'max':>10}")
    for name in METHODS:
        row = figures[name]
        print(
            f"{name:<16}{row['pages_per_second_median']:>12,.0f}{row['ms_per_page_median']:>10.3f}"
            f"{row['pages_per_second_min']:>10,.0f}{row['pages_per_second_max']:>10,.0f}"
        )
    goals = results["goals"]
    assert isinstance(goals, dict)
    print(
        f"\nparse_page / lexbor floor: {figures['ratio_parse_vs_lexbor']:.2f}x "
        f"(goal <= {GOALS['parse_vs_lexbor_max']:g}, aim {GOALS['parse_vs_lexbor_aim']:g}) "
        f"{'ok' if goals['parse_vs_lexbor'] else 'MISSED'}"
    )
    print(
        f"required steps / lexbor floor: {figures['ratio_required_vs_lexbor']:.2f}x "
        "(decode, hash, head and body lines, NFKC, line forms, validation: no rules)"
    )
    print(
        f"bs4 baseline / parse_page: {figures['ratio_bs4_vs_parse']:.2f}x "
        f"(goal >= {GOALS['bs4_vs_parse_min']:g}) {'ok' if goals['bs4_vs_parse'] else 'MISSED'}"
    )
    memory = results["memory"]
    assert isinstance(memory, dict)
    print(
        f"memory: peak RSS {memory['peak_rss_mb']:.0f} MB, parse of one round "
        f"{memory['parse_round_traced_peak_mb']:.1f} MB traced "
        f"(goal < {GOALS['peak_memory_mb_max']:g} MB) {'ok' if goals['memory'] else 'MISSED'}"
    )
    build = results["build"]
    assert isinstance(build, dict)
    if "skipped" in build:
        print(f"build: skipped ({build['skipped']})")
    else:
        print(
            f"build of {build['pages']} pages: {build['seconds']:.2f} s, peak RSS "
            f"{build['peak_rss_mb']:.0f} MB, exit {build['exit_code']}"
            f"{' on one core' if build['one_core'] else ''} "
            f"(goal < {GOALS['build_seconds_max']:g} s) {'ok' if goals['build'] else 'MISSED'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400, help="pages per round (>= 400)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds")
    parser.add_argument("--build-pages", type=int, default=1000)
    parser.add_argument("--no-build", action="store_true", help="skip osaka-unei build")
    parser.add_argument("--profile", type=int, metavar="N", help="print a cProfile top N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    sources = load_sources()
    # Round 0 warms up and is checked; rounds 1..N are timed; the build gets its own pages.
    corpus = [make_round(sources, args.pages, r, args.seed) for r in range(args.rounds + 1)]
    print(
        f"corpus: {args.rounds + 1} rounds x {args.pages} pages from {len(sources)} fixtures "
        f"({time.perf_counter() - started:.1f} s)"
    )
    check = check_corpus(corpus[0])
    if check["mismatched"]:
        print(f"warning: {len(check['mismatched'])} corpus pages parse differently from their")
        print("  fixture (a generator or parser bug):", *check["mismatched"][:5], sep="\n  ")
    time_round(corpus[0], list(METHODS))  # warm-up: imports, caches of re and pydantic
    if args.profile:
        print(profile(corpus[0], args.profile))

    rounds = []
    names = list(METHODS)
    for index, pages in enumerate(corpus[1:]):
        order = names[index % len(names) :] + names[: index % len(names)]
        rounds.append(time_round(pages, order))
        print(
            f"round {index + 1}: "
            + ", ".join(f"{name} {rounds[-1][name]:,.0f}/s" for name in names)
        )
    figures = summarise(rounds)
    memory = {
        "parse_round_traced_peak_mb": round(parse_memory(corpus[-1]), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    del corpus
    build: dict[str, object] = {"skipped": "--no-build"}
    if not args.no_build:
        build_pages = make_round(sources, args.build_pages, 10_000, args.seed)
        print(f"build: {len(build_pages)} pages through osaka-unei build …")
        build = run_build(build_pages)

    goals = {
        "parse_vs_lexbor": figures["ratio_parse_vs_lexbor"] <= GOALS["parse_vs_lexbor_max"],
        "parse_vs_lexbor_aim": figures["ratio_parse_vs_lexbor"] <= GOALS["parse_vs_lexbor_aim"],
        "bs4_vs_parse": figures["ratio_bs4_vs_parse"] >= GOALS["bs4_vs_parse_min"],
        "memory": max(memory["peak_rss_mb"], float(build.get("peak_rss_mb", 0) or 0))
        < GOALS["peak_memory_mb_max"],
        "build": (
            None
            if "skipped" in build
            else build["exit_code"] == 0 and float(build["seconds"]) < GOALS["build_seconds_max"]
        ),
    }
    results = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "corpus": {
            "pages_per_round": args.pages,
            "timed_rounds": args.rounds,
            "sources": [source.name for source in sources],
            "check": check,
        },
        "figures": figures,
        "rounds": [{k: round(v, 1) for k, v in r.items()} for r in rounds],
        "memory": memory,
        "build": build,
        "goals": goals,
        "goal_values": GOALS,
    }
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
