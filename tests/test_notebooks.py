"""The notebooks in notebooks/ run against the committed dataset, and keep their outputs.

Each notebook is executed by nbclient with a kernel of this interpreter (the project's
venv: a kernel spec written for the test, so a `python3` kernel installed elsewhere on the
machine is never used); any error in a cell fails the test. The committed files keep their
rendered outputs (tables and an SVG chart) so that they read on GitHub: refresh them with
`make notebook-outputs` (this file run as a script) after the data or the notebooks change.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from osaka_unei.dataset.load import load
from osaka_unei.wards import SLUG_ORDER, WARD_ORDER, WARDS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "osaka-unei-test"
CELL_TIMEOUT = 120  # seconds


def _kernel_dir(base: Path) -> Path:
    """A JUPYTER_PATH folder with one kernel spec: this interpreter running ipykernel."""
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}), "utf-8"
    )
    return base


def execute(path: Path, jupyter_path: Path) -> nbformat.NotebookNode:
    """The notebook with every cell run in its folder (raises on a cell's error)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        record_timing=False,  # no timestamps: a re-run changes nothing in git
        resources={"metadata": {"path": str(path.parent)}},
    )
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(jupyter_path)
    try:
        client.execute()
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    return notebook


def test_there_are_notebooks() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01_budget_by_theme.ipynb",
        "02_following_an_item.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    executed = execute(path, _kernel_dir(tmp_path))
    errors = [
        output
        for cell in executed.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_keeps_its_outputs(path: Path) -> None:
    """Run, with a table and a static chart: it reads on GitHub without a kernel."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "run the notebook: make notebook-outputs"
    kinds = {kind for cell in code for output in cell.outputs for kind in output.get("data", {})}
    assert {"text/html", "image/svg+xml"} <= kinds
    assert not any(output.get("output_type") == "error" for cell in code for output in cell.outputs)


def test_ward_order_is_by_name_and_by_slug() -> None:
    assert list(WARD_ORDER)[:3] == ["北区", "都島区", "福島区"]
    assert list(WARD_ORDER)[-1] == "西成区" and len(WARD_ORDER) == 24
    assert WARD_ORDER["北区"] < WARD_ORDER["中央区"] < WARD_ORDER["西成区"]
    assert list(SLUG_ORDER) == [ward.slug for ward in WARDS]
    frame = pd.DataFrame({"ward": ["西成区", "北区", "港区"]})
    ordered = frame.sort_values("ward", key=lambda s: s.map(WARD_ORDER))
    assert list(ordered["ward"]) == ["北区", "港区", "西成区"]


def test_load_gives_ward_as_a_categorical_in_the_citys_order() -> None:
    policies = load("policies", ROOT / "data" / "processed")
    assert isinstance(policies, pd.DataFrame)
    ward = policies["ward"]
    assert isinstance(ward.dtype, pd.CategoricalDtype) and ward.cat.ordered
    assert list(ward.cat.categories) == list(WARD_ORDER)
    # Sorting follows the city (北区, 西区, 港区, 鶴見区, 東住吉区), not code points.
    assert list(policies.sort_values("ward")["ward"]) == [
        "北区",
        "西区",
        "港区",
        "鶴見区",
        "東住吉区",
    ]
    # In a groupby only the wards present appear (pandas' observed=True).
    assert len(policies.groupby("ward", observed=True).size()) == 5


def main() -> None:
    """Run every notebook and write its outputs into it (make notebook-outputs)."""
    with tempfile.TemporaryDirectory() as folder:
        for path in NOTEBOOKS:
            nbformat.write(execute(path, _kernel_dir(Path(folder))), path)
            print(f"ran {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
