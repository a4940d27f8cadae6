"""The derived tables of a build, from its core tables, every stored version and the
curated data files; a problem in a curated file is an error row, never a crash.

A build derives them unit by unit (`derive_unit`: one ward's pages, see publish.units): the
curated files are read and checked once against the whole (`read_curated`), then each ward
gets its own rows of them (`Curated.for_ward`). `derive_tables` is the whole as one unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from osaka_unei.analysis.changes import changes_table
from osaka_unei.analysis.lineage import OverrideMessage, apply_overrides, lineage_tables
from osaka_unei.analysis.overrides import Override, parse_overrides
from osaka_unei.analysis.themes import (
    OverrideError,
    add_sdgs,
    codebook_frame,
    read_overrides,
    tag_nodes,
)
from osaka_unei.analysis.versions import VersionInput, versions_table
from osaka_unei.dataset.flatten import ward_of
from osaka_unei.dataset.nodes import nodes_frame, nodes_table
from osaka_unei.text import bounded

DATA_DIR = Path("data")
LINEAGE_OVERRIDES = "lineage-overrides.csv"
THEME_OVERRIDES = "theme-overrides.csv"
MAX_PROBLEMS = 20  # bad rows of a curated file named in its error row
UNIT_TABLES = ("lineage", "lineage_candidates", "themes", "nodes")  # derive_unit's tables
PAGE_TABLES = ("versions", "changes")  # per stored version: made with a unit's core tables


@dataclass(slots=True)
class Derived:
    tables: dict[str, pd.DataFrame]
    # (curated file, one-line message) for each unusable row: error rows in the parse report
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Curated:
    """The curated files, read and checked against the whole build."""

    lineage_file: Path
    theme_file: Path
    lineage: list[Override]
    lineage_errors: list[str]  # rows of the file itself that cannot be used
    themes: pd.DataFrame | None  # checked theme overrides (None: none, or not applied)
    theme_problem: str | None  # why the theme overrides were not applied

    def for_wards(self, ward_slugs: Collection[str]) -> tuple[list[Override], pd.DataFrame | None]:
        """The rows about these wards: lineage overrides naming them, theme overrides of their
        policies."""
        lineage = [o for o in self.lineage if o.ward_slug in ward_slugs]
        themes = self.themes
        if themes is not None:
            themes = themes[themes["policy_id"].map(ward_of).isin(ward_slugs)]
            themes = None if themes.empty else themes.reset_index(drop=True)
        return lineage, themes

    def unmatched(self, ward_slugs: Collection[str]) -> list[str]:
        """The messages of lineage overrides naming a ward with no page: nothing to find."""
        others = [o for o in self.lineage if o.ward_slug not in ward_slugs]
        return [error.text for error in apply_overrides([], {}, others)[1]]

    def problems(self, lineage_errors: Sequence[str]) -> list[tuple[str, str]]:
        """Error rows: one per file (its path is the row's key), its first messages and a count."""
        problems = []
        messages = [*self.lineage_errors, *lineage_errors]
        if messages:
            problems.append(
                (self.lineage_file.as_posix(), " | ".join(bounded(messages, MAX_PROBLEMS)))
            )
        if self.theme_problem is not None:
            problems.append((self.theme_file.as_posix(), f"not applied: {self.theme_problem}"))
        return problems


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig") if path.is_file() else ""


def read_curated(core: Mapping[str, pd.DataFrame], data_dir: Path = DATA_DIR) -> Curated:
    lineage_file, theme_file = data_dir / LINEAGE_OVERRIDES, data_dir / THEME_OVERRIDES
    overrides, errors = parse_overrides(_read(lineage_file), LINEAGE_OVERRIDES)
    try:
        themes, problem = read_overrides(theme_file, core), None
    except OverrideError as exc:
        themes, problem = None, str(exc)
    return Curated(lineage_file, theme_file, overrides, errors, themes, problem)


def override_rows(overrides: Sequence[Override]) -> list[dict[str, object]]:
    """Overrides as plain rows: what a unit's key says of them."""
    return [dataclasses.asdict(o) for o in overrides]


@dataclass(slots=True)
class UnitDerived:
    tables: dict[str, pd.DataFrame]  # UNIT_TABLES
    errors: list[OverrideMessage]  # one per unusable lineage override


def derive_unit(
    core: Mapping[str, pd.DataFrame],
    previous_lineage: pd.DataFrame | None,
    lineage_overrides: Sequence[Override],
    theme_overrides: pd.DataFrame | None,
) -> UnitDerived:
    """lineage, lineage_candidates, themes and nodes (the node model with the lineage and
    themes it was given) of the core tables of one unit, or of several at once."""
    frame = nodes_frame(core)  # the node model, made once for the three that read it
    lineage = lineage_tables(
        core["policies"],
        core["issues"],
        core["strategies"],
        core["initiatives"],
        previous=previous_lineage,
        overrides=lineage_overrides,
        frame=frame,
    )
    themes = add_sdgs(tag_nodes(core, theme_overrides, frame=frame), core["sdgs"])
    theme_ids = codebook_frame()["theme"].tolist()
    return UnitDerived(
        {
            "lineage": lineage.lineage,
            "lineage_candidates": lineage.candidates,
            "themes": themes,
            "nodes": nodes_table(core, lineage.lineage, themes, theme_ids, frame),
        },
        lineage.errors,
    )


def derive_tables(
    core: Mapping[str, pd.DataFrame],
    versions: Sequence[VersionInput],
    previous_lineage: pd.DataFrame | None,
    data_dir: Path = DATA_DIR,
) -> Derived:
    """Every derived table of these core tables as one unit (a notebook's, a test's):
    lineage, lineage_candidates, themes, theme_codebook, versions, changes, nodes."""
    curated = read_curated(core, data_dir)
    derived = derive_unit(core, previous_lineage, curated.lineage, curated.themes)
    return Derived(
        derived.tables
        | {
            "theme_codebook": codebook_frame(),
            "versions": versions_table(versions),
            "changes": changes_table(versions),
        },
        curated.problems([error.text for error in derived.errors]),
    )
