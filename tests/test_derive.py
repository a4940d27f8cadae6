"""The build's derived tables from the curated data files: a row that does not fit is an
error row of the parse report, and the build still publishes (nothing crashes)."""

from __future__ import annotations

import shutil
from pathlib import Path

from osaka_unei.publish.run import run_build

ROOT = Path(__file__).resolve().parents[1]


def test_bad_curated_rows_are_error_rows(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", raw)
    data = tmp_path / "data"
    data.mkdir()
    (data / "lineage-overrides.csv").write_text(
        "action,ward_slug,level,from_policy_id,from_node,to_policy_id,to_node,reason\n"
        "merge,minato,issue,minato-2022,1,minato-2022,2,no such action\n",
        encoding="utf-8",
    )
    (data / "theme-overrides.csv").write_text(
        "policy_id,level,issue_position,strategy_position,position,theme,reason\n"
        "minato-2022,issue,1,,,saftey,misspelt\n",
        encoding="utf-8",
    )
    result = run_build(raw, tmp_path / "out" / "processed", tmp_path / "cache", data_dir=data)
    report = result.tables["parse_report"]
    errors = report[report["status"] == "error"].set_index("path")["messages"]
    assert errors[(data / "lineage-overrides.csv").as_posix()] == (
        "lineage-overrides.csv line 2: unknown action 'merge' (use ('join', 'split', 'apart'))"
    )
    theme_error = errors[(data / "theme-overrides.csv").as_posix()]
    assert theme_error.startswith("not applied: ") and "unknown theme 'saftey'" in theme_error
    # the rest of the build is published as usual: 5 policies, every node with a lineage
    assert len(result.tables["policies"]) == 5
    assert len(result.tables["lineage"]) == 89
    assert set(result.tables["themes"]["source"]) == {"keywords"}
