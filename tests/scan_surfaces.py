"""Run the property checks of tests/properties.py over what users see of one raw store: the
CLI's `history` (every ward), `changes` (every policy), `search`, `parse --format summary`
(every current page) and every page and chart of the report. Prints what fails; exit 1 if
anything does. A look-around for the surface tests, not a test itself:

    PYTHONPATH=src .venv/bin/python -m tests.scan_surfaces tests/fixtures/multiyear/raw
    PYTHONPATH=src .venv/bin/python -m tests.scan_surfaces --bench 96
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .properties import amounts_in_html, missing_tokens, repeated_ticks

SEARCHES = ("防災", "地域", "子育て")


def surfaces(raw: Path, base: Path) -> dict[str, str]:
    """Every surface's text for the raw store, built into base."""
    from typer.testing import CliRunner

    from osaka_unei.cli import app
    from osaka_unei.dataset.load import load
    from osaka_unei.publish.report import write_report
    from osaka_unei.publish.run import run_build

    (base / "data").mkdir(parents=True, exist_ok=True)
    out = base / "processed"
    run_build(raw_dir=raw, out_dir=out, cache_dir=base / "cache", data_dir=base / "data")
    tables = load(processed_dir=out)
    assert isinstance(tables, dict)
    runner, where = CliRunner(), ["--processed-dir", str(out)]
    texts: dict[str, str] = {}
    for ward in sorted(set(tables["policies"]["ward_slug"])):
        texts[f"history {ward}"] = runner.invoke(app, ["history", ward, *where]).output
    for policy_id in sorted(set(tables["versions"]["policy_id"])):
        texts[f"changes {policy_id}"] = runner.invoke(app, ["changes", policy_id, *where]).output
    for query in SEARCHES:
        texts[f"search {query}"] = runner.invoke(app, ["search", query, *where]).output
    current = tables["versions"][tables["versions"]["is_current"]]
    for path in current["path"]:
        args = ["parse", str(raw / path), "--format", "summary"]
        texts[f"summary {path}"] = runner.invoke(app, args).output
    site = base / "report"
    for name in write_report(out, raw, raw / "no-registry.csv", site):
        if name.endswith((".html", ".svg")):
            texts[f"report {name}"] = (site.resolve() / name).read_text(encoding="utf-8")
    return texts


def scan(texts: dict[str, str]) -> list[str]:
    problems = []
    for name, text in texts.items():
        problems += [f"{name}: {found}" for found in missing_tokens(text)[:3]]
        if name.startswith("report "):
            problems += [f"{name}: {found}" for found in repeated_ticks(text)[:3]]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, nargs="?", help="a raw store (manifest.jsonl)")
    parser.add_argument("--bench", type=int, help="scan a benchmark store of this many versions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="osaka-unei-scan-") as tmp:
        base = Path(tmp)
        raw = args.raw
        if args.bench:
            from .multiyear import write_bench_store

            raw = base / "raw"
            write_bench_store(raw, args.bench)
        if raw is None:
            parser.error("name a raw store or --bench N")
        texts = surfaces(raw, base)
        cells = sum(len(amounts_in_html(t)) for n, t in texts.items() if n.endswith(".html"))
        problems = scan(texts)
    print("\n".join(problems))
    print(f"{len(texts)} surfaces, {len(problems)} problems, {cells} amount cells (data-node)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
