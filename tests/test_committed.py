"""The committed dataset and report are what the code makes of the committed raw store: a
change to the parser, the tables or the report that is not rebuilt and committed fails
here (`make all`, then commit data/)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from osaka_unei import store
from osaka_unei.publish.report import INPUTS_NAME, report_inputs
from osaka_unei.publish.run import run_build

DATA = Path(__file__).resolve().parents[1] / "data"


def test_committed_dataset_is_the_build_of_the_raw_store(tmp_path: Path) -> None:
    build = store.resolve_published(DATA / "processed")
    shutil.copytree(build, tmp_path / "data" / "builds" / build.name)
    os.symlink(f"builds/{build.name}", tmp_path / "data" / "processed")
    result = run_build(
        DATA / "raw", tmp_path / "data" / "processed", tmp_path / "cache", data_dir=DATA
    )
    assert (result.build_id, result.written) == (build.name, [])


def test_committed_report_is_drawn_from_the_committed_inputs() -> None:
    report = store.resolve_published(DATA / "report")
    stamp = json.loads((report / INPUTS_NAME).read_text(encoding="utf-8"))
    assert stamp["inputs"] == report_inputs(DATA / "processed", DATA / "raw", DATA / "registry.csv")
