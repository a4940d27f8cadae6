"""Builds for the end-to-end tests: the multi-year TEST corpus (tests/fixtures/multiyear) and a
small store of the benchmark's shape (bench/build_bench.py), each built once per process.

    @pytest.fixture(scope="session")
    def multiyear(tmp_path_factory: pytest.TempPathFactory) -> Built:
        return multiyear_build(tmp_path_factory)

`multiyear_build` gives a `Built`: the BuildResult, the folders (raw, out, cache, data) and
expect.json; `bench_build` the same for the benchmark's store. Each builds once per process,
however many modules ask (the later calls return the first build).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from osaka_unei.publish.run import BuildResult, run_build

from .conftest import FIXTURES

MULTIYEAR = FIXTURES / "multiyear"
MULTIYEAR_RAW = MULTIYEAR / "raw"
BENCH = Path(__file__).resolve().parent.parent / "bench"
BENCH_VERSIONS = 96  # 24 policies (every ward once, 2013) × 4 versions: a build of ~2 s


@dataclass(frozen=True)
class Built:
    result: BuildResult
    raw: Path
    out: Path
    cache: Path
    data: Path
    expect: dict[str, Any]

    @property
    def tables(self) -> dict[str, Any]:
        return self.result.tables


_BUILT: dict[str, Built] = {}


def build_store(raw: Path, base: Path, expect: dict[str, Any] | None = None) -> Built:
    """run_build of a raw store into base/{out,cache}, with no curated files (base/data)."""
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    out, cache = base / "out" / "processed", base / "cache"
    result = run_build(raw_dir=raw, out_dir=out, cache_dir=cache, data_dir=data)
    return Built(result, raw, out, cache, data, expect or {})


def load_expect() -> dict[str, Any]:
    return json.loads((MULTIYEAR / "expect.json").read_text(encoding="utf-8"))


def multiyear_build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The multi-year corpus built once per test process."""
    if "multiyear" not in _BUILT:
        base = tmp_path_factory.mktemp("multiyear")
        _BUILT["multiyear"] = build_store(MULTIYEAR_RAW, base, load_expect())
    return _BUILT["multiyear"]


def write_bench_store(raw: Path, n_pages: int = BENCH_VERSIONS, seed: int = 0) -> list[Any]:
    """The benchmark's synthetic store (bench/build_bench.py write_build_store), smaller."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from build_bench import write_build_store

    return write_build_store(raw, n_pages, seed)


def bench_build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A store of the benchmark's shape (BENCH_VERSIONS versions) built once per process."""
    if "bench" not in _BUILT:
        base = tmp_path_factory.mktemp("bench-store")
        write_bench_store(base / "raw")
        _BUILT["bench"] = build_store(base / "raw", base)
    return _BUILT["bench"]
