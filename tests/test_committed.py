"""The committed dataset and report are what the code makes of the committed raw store: a
change to the parser, the tables or the report that is not rebuilt and committed fails
here (`make all`, then commit data/). Both are real folders at stable paths whose files
are exactly those their manifest lists, each with its recorded sha256."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from osaka_unei.publish.report import INPUTS_NAME, report_inputs
from osaka_unei.publish.run import run_build
from osaka_unei.published import build_files, read_build

DATA = Path(__file__).resolve().parents[1] / "data"


def _published(folder: Path, manifest_name: str) -> dict:
    """folder's manifest, after checking that folder holds that build's files and no others."""
    assert folder.is_dir() and not folder.is_symlink(), (
        f"{folder} is from before stable paths: `make all`, then commit data/"
    )
    manifest, files = read_build(folder, manifest_name, lambda m: sorted(build_files(m) or ()))
    assert build_files(manifest) is not None, f"{folder / manifest_name} names no build"
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {*files, manifest_name}
    return manifest


def test_committed_dataset_is_the_build_of_the_raw_store(tmp_path: Path) -> None:
    manifest = _published(DATA / "processed", "datapackage.json")
    shutil.copytree(DATA / "processed", tmp_path / "data" / "processed")
    result = run_build(
        DATA / "raw", tmp_path / "data" / "processed", tmp_path / "cache", data_dir=DATA
    )
    assert (result.build_id, result.written) == (manifest["build"]["id"], [])
    assert not (DATA / "builds").exists()


def test_committed_report_is_drawn_from_the_committed_inputs() -> None:
    stamp = _published(DATA / "report", INPUTS_NAME)
    assert stamp["inputs"] == report_inputs(DATA / "processed", DATA / "raw", DATA / "registry.csv")
    assert json.loads((DATA / "report" / INPUTS_NAME).read_bytes()) == stamp
