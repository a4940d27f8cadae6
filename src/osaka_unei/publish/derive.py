"""The derived tables of a build, from its core tables, every stored version and the
curated data files; a problem in a curated file is an error row, never a crash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from osaka_unei.analysis.changes import changes_table
from osaka_unei.analysis.lineage import lineage_tables
from osaka_unei.analysis.overrides import parse_overrides
from osaka_unei.analysis.themes import OverrideError, build_themes, codebook_frame
from osaka_unei.analysis.versions import VersionInput, versions_table
from osaka_unei.dataset.nodes import nodes_table
from osaka_unei.text import bounded

DATA_DIR = Path("data")
LINEAGE_OVERRIDES = "lineage-overrides.csv"
THEME_OVERRIDES = "theme-overrides.csv"
MAX_PROBLEMS = 20  # bad rows of a curated file named in its error row


@dataclass(slots=True)
class Derived:
    tables: dict[str, pd.DataFrame]
    # (curated file, one-line message) for each unusable row: error rows in the parse report
    problems: list[tuple[str, str]] = field(default_factory=list)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig") if path.is_file() else ""


def derive_tables(
    core: Mapping[str, pd.DataFrame],
    versions: Sequence[VersionInput],
    previous_lineage: pd.DataFrame | None,
    data_dir: Path = DATA_DIR,
) -> Derived:
    """lineage, lineage_candidates, themes, theme_codebook, versions, changes, and nodes
    (the node model with the lineage and themes it was given)."""
    problems: list[tuple[str, str]] = []
    lineage_file = data_dir / LINEAGE_OVERRIDES
    overrides, errors = parse_overrides(_read(lineage_file), LINEAGE_OVERRIDES)
    lineage = lineage_tables(
        core["policies"],
        core["issues"],
        core["strategies"],
        core["initiatives"],
        previous=previous_lineage,
        overrides=overrides,
    )
    if errors or lineage.errors:
        # One error row per file (its path is the row's key): the first messages and a count.
        messages = bounded([*errors, *lineage.errors], MAX_PROBLEMS)
        problems.append((lineage_file.as_posix(), " | ".join(messages)))
    theme_file = data_dir / THEME_OVERRIDES
    try:
        themes = build_themes(core, core["sdgs"], theme_file)
    except OverrideError as exc:
        problems.append((theme_file.as_posix(), f"not applied: {exc}"))
        themes = build_themes(core, core["sdgs"], None)
    codebook = codebook_frame()
    return Derived(
        {
            "lineage": lineage.lineage,
            "lineage_candidates": lineage.candidates,
            "themes": themes,
            "theme_codebook": codebook,
            "versions": versions_table(versions),
            "changes": changes_table(versions),
            "nodes": nodes_table(core, lineage.lineage, themes, codebook["theme"].tolist()),
        },
        problems,
    )
