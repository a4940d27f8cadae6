"""`make bench`, the command line: `search`, `history` and `--help` timed as whole
processes against the floor any typer command line over SQLite pays (Python importing
typer, rich.table and sqlite3). Each command and the floor run in turn (A B A B …), so a
drift of the machine's speed touches both, and the ratio is taken pair by pair; the median
is reported. Goal (issue 22): each command at most twice the floor."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = [sys.executable, "-c", "import typer, rich.table, sqlite3"]
# What a user types, run from the repository root on the committed dataset.
COMMANDS = {
    "search 防災": ["search", "防災"],
    "history minato": ["history", "minato"],
    "--help": ["--help"],
}


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "osaka-unei"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from osaka_unei.cli import run; run()"]


def _once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of argv, output thrown away."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure_cli(runs: int = 9) -> dict[str, dict[str, float]]:
    """Per command: median wall and CPU seconds of it and of the floor, and the median of
    the pairwise ratios (command / floor)."""
    results: dict[str, dict[str, float]] = {}
    for name, args in COMMANDS.items():
        command = [*_cli(), *args]
        _once(command), _once(FLOOR)  # warm-up: the page cache, .pyc files
        pairs = [(_once(command), _once(FLOOR)) for _ in range(runs)]
        results[name] = {
            "seconds_median": round(statistics.median(a[0] for a, _ in pairs), 3),
            "floor_seconds_median": round(statistics.median(b[0] for _, b in pairs), 3),
            "cpu_seconds_median": round(statistics.median(a[1] for a, _ in pairs), 3),
            "floor_cpu_seconds_median": round(statistics.median(b[1] for _, b in pairs), 3),
            "ratio_median": round(statistics.median(a[0] / b[0] for a, b in pairs), 2),
            "cpu_ratio_median": round(
                statistics.median(a[1] / b[1] for a, b in pairs if b[1] > 0), 2
            ),
            "runs": runs,
        }
    return results


def print_cli(results: dict[str, dict[str, float]], goal: float) -> dict[str, bool]:
    """The table `make bench` prints; returns the goals met, by command."""
    print(f"\n{'command line':<18}{'s':>8}{'floor s':>9}{'ratio':>8}{'cpu ratio':>11}")
    met = {}
    for name, row in results.items():
        met[name] = row["ratio_median"] <= goal
        print(
            f"{name:<18}{row['seconds_median']:>8.3f}{row['floor_seconds_median']:>9.3f}"
            f"{row['ratio_median']:>7.2f}x{row['cpu_ratio_median']:>10.2f}x "
            f"{'ok' if met[name] else 'MISSED'}"
        )
    print(
        f"(floor: python -c {FLOOR[-1]!r}; whole processes, in turn, medians of "
        f"{next(iter(results.values()))['runs']} pairs; goal <= {goal:g}x)"
    )
    return met


if __name__ == "__main__":
    print_cli(measure_cli(), 2.0)
