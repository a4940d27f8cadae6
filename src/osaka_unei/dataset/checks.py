"""Checks on the tables before anything is written: keys, codes under their parents,
budgets, ward slugs, every raw file reported, no ward losing rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from osaka_unei.dataset.flatten import policy_id
from osaka_unei.dataset.nodes import node_pairs
from osaka_unei.dataset.tables import COUNTED_TABLES, TABLES, TableSpec
from osaka_unei.errors import CheckError
from osaka_unei.wards import SLUG_WARDS

STATS_NAME = "build_stats.json"


Row = dict[str, Any]

# --- checks -----------------------------------------------------------------------------


def _code_under(child: str, parent: str) -> bool:
    """'1-2-3' is under '1-2' and under '1'; codes are normalised to '-' by the parser."""
    child_parts, parent_parts = child.split("-"), parent.split("-")
    return len(child_parts) > len(parent_parts) and child_parts[: len(parent_parts)] == parent_parts


def _check_codes(df: pd.DataFrame, child: str, parents: list[str], table: str) -> None:
    for code, *ancestors in _rows(df, [child, *parents]):
        nearest = next((a for a in ancestors if a is not None), None)
        if code is not None and nearest is not None and not _code_under(code, nearest):
            raise CheckError(f"codes: {table}.{child} {code!r} is not under {nearest!r}")


def check_columns(tables: Mapping[str, pd.DataFrame], specs: Iterable[TableSpec]) -> None:
    """Each table has its spec's columns, required values, enum values, no negative amount
    and a unique key."""
    for spec in specs:
        df = tables[spec.name]
        if list(df.columns) != spec.names:
            raise CheckError(f"columns: {spec.name} has {list(df.columns)}, expected {spec.names}")
        for column in spec.columns:
            if not (column.required or column.enum or column.unit):
                continue
            values = df[column.name]
            # the column's array, not a Series: each look costs no pandas frame work
            nulls = np.asarray(values.array.isna(), dtype=bool)
            if column.required and nulls.any():
                raise CheckError(f"required: {spec.name}.{column.name} has nulls")
            present = values.array[~nulls] if nulls.any() else values.array
            # (the distinct values against the enum: a column holds few)
            if column.enum and not set(present.unique().tolist()) <= set(column.enum):
                bad = sorted(set(values.dropna()) - set(column.enum))
                raise CheckError(f"values: {spec.name}.{column.name} has {bad}")
            if column.unit and bool(np.any(np.asarray(present < 0, dtype=bool))):
                raise CheckError(f"non-negative: {spec.name}.{column.name} has a negative amount")
        duplicated = df.duplicated(subset=list(spec.key), keep=False)
        if duplicated.any():
            first = tuple(df.loc[duplicated, list(spec.key)].iloc[0])
            raise CheckError(f"unique key: {spec.name} repeats ({', '.join(spec.key)}) = {first}")


def check_derived(tables: Mapping[str, pd.DataFrame], specs: Iterable[TableSpec]) -> None:
    """The analysis tables: their specs, one lineage row per node, themes only from the
    codebook, SDGs goals 1–17."""
    check_columns(tables, specs)
    nodes = set(node_pairs(tables))
    lineage = tables["lineage"]
    linked = set(zip(lineage["policy_id"].tolist(), lineage["node_key"].tolist(), strict=True))
    if linked != nodes or len(lineage) != len(nodes):
        raise CheckError(
            f"lineage: {len(lineage)} rows for {len(nodes)} nodes "
            f"({len(nodes - linked)} nodes without a row)"
        )
    unknown = set(tables["themes"]["theme"].tolist()) - set(
        tables["theme_codebook"]["theme"].tolist()
    )
    if unknown:
        raise CheckError(f"themes: not in the codebook: {sorted(unknown)}")
    goals = tables["sdgs"]["goal"]
    if not goals.between(1, 17).all():
        raise CheckError(
            f"sdgs: goals outside 1–17: {sorted({int(g) for g in goals[~goals.between(1, 17)]})}"
        )


def check_tables(tables: Mapping[str, pd.DataFrame], raw_files: Iterable[str]) -> None:
    """Raise CheckError (one line naming the check) unless the frames are publishable."""
    check_columns(tables, TABLES)
    policies = tables["policies"]
    # (sets of .tolist(): a Python list, not an iteration over an Arrow-backed column)
    unknown = sorted(set(policies["ward_slug"].tolist()) - set(SLUG_WARDS))
    report_slugs = set(tables["parse_report"]["ward_slug"].dropna().tolist())
    unknown += sorted(report_slugs - set(SLUG_WARDS))
    if unknown:
        raise CheckError(f"ward slugs: unknown {unknown}")
    for row in policies[["policy_id", "ward", "ward_slug", "fiscal_year"]].itertuples():
        if row.policy_id != policy_id(row.ward_slug, row.fiscal_year):
            raise CheckError(f"policy_id: {row.policy_id} is not ward_slug-fiscal_year")
        if SLUG_WARDS[row.ward_slug] != row.ward:
            raise CheckError(f"ward slugs: {row.policy_id} has ward {row.ward}")

    ids = set(policies["policy_id"].tolist())
    for name in COUNTED_TABLES[1:]:
        orphans = sorted(set(tables[name]["policy_id"].tolist()) - ids)
        if orphans:
            raise CheckError(f"parents: {name} rows for unknown policy {orphans[0]}")
    _check_parents(tables)
    _check_codes(tables["strategies"], "strategy_code", ["issue_code"], "strategies")
    _check_codes(
        tables["initiatives"], "initiative_code", ["strategy_code", "issue_code"], "initiatives"
    )
    for table, column in (
        ("issues", "n_issues"),
        ("strategies", "n_strategies"),
        ("initiatives", "n_initiatives"),
    ):
        counts = tables[table].groupby("policy_id").size()
        expected = policies.set_index("policy_id")[column]
        if not expected.astype("int64").equals(
            counts.reindex(expected.index, fill_value=0).astype("int64")
        ):
            raise CheckError(f"counts: policies.{column} differs from the rows of {table}")

    reported = set(tables["parse_report"]["path"].tolist())
    missing = sorted(set(raw_files) - reported)
    if missing:
        raise CheckError(f"parse report: raw file {missing[0]} has no row")


# (child, parent, child key, parent key, child codes, parent codes); budgets by level.
_STRATEGY_KEY = ["policy_id", "issue_position", "position"]
_LINKS: tuple[tuple[str, str, list[str], list[str], list[str], list[str]], ...] = (
    ("strategies", "issues", ["policy_id", "issue_position"], ["policy_id", "issue_position"],
     ["issue_code"], ["issue_code"]),
    ("initiatives", "strategies", ["policy_id", "issue_position", "strategy_position"],
     _STRATEGY_KEY, ["issue_code", "strategy_code"], ["issue_code", "strategy_code"]),
    ("issue", "issues", ["policy_id", "issue_position"], ["policy_id", "issue_position"],
     ["code"], ["issue_code"]),
    ("strategy", "strategies", ["policy_id", "issue_position", "strategy_position"],
     _STRATEGY_KEY, ["code"], ["strategy_code"]),
    ("initiative", "initiatives",
     ["policy_id", "issue_position", "strategy_position", "initiative_position"],
     ["policy_id", "issue_position", "strategy_position", "position"],
     ["code"], ["initiative_code"]),
)  # fmt: skip


def _rows(df: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows of these columns as tuples of Python values, None for a null (a column at a
    time: no per-cell pandas call)."""
    values = []
    for column in columns:
        series = df[column]
        cells = series.tolist()  # Python values, as astype(object) gives them
        for i in np.flatnonzero(series.isna().to_numpy()):
            cells[i] = None
        values.append(cells)
    return list(zip(*values, strict=True))


def _check_parents(tables: Mapping[str, pd.DataFrame]) -> None:
    """Every child sits under an existing parent and repeats that parent's codes."""
    budgets = tables["budgets"]
    for child, parent, child_key, parent_key, child_codes, parent_codes in _LINKS:
        rows = tables[child] if child in tables else budgets[budgets["level"] == child]
        name = child if child in tables else f"budgets ({child})"
        parents = {
            row[: len(parent_key)]: row[len(parent_key) :]
            for row in _rows(tables[parent], parent_key + parent_codes)
        }
        for row in _rows(rows, child_key + child_codes):
            key, codes = row[: len(child_key)], row[len(child_key) :]
            if key not in parents:
                raise CheckError(f"parents: {name} row {key} has no parent in {parent}")
            if codes != parents[key]:
                raise CheckError(f"codes: {name} row {key} has {codes}, its parent {parents[key]}")


# --- row-count regression --------------------------------------------------------------


def row_counts(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """Per table, rows per ward slug (deterministic order)."""
    slug_of = dict(
        zip(tables["policies"]["policy_id"], tables["policies"]["ward_slug"], strict=True)
    )
    counts: dict[str, dict[str, int]] = {}
    for name in COUNTED_TABLES:
        per_ward = tables[name]["policy_id"].map(slug_of).value_counts()
        counts[name] = {slug: int(per_ward[slug]) for slug in sorted(per_ward.index)}
    return counts


def check_shrink(
    previous: Mapping[str, Mapping[str, int]], current: Mapping[str, Mapping[str, int]]
) -> None:
    for table in COUNTED_TABLES:
        for slug, before in sorted(previous.get(table, {}).items()):
            after = current.get(table, {}).get(slug, 0)
            if after < before:
                raise CheckError(
                    f"shrink: ward {slug} lost rows in {table} ({before} → {after}); "
                    "rerun with --allow-shrink if that is right"
                )


def previous_counts(out_dir: Path) -> dict[str, dict[str, int]]:
    path = out_dir / STATS_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckError(f"shrink: cannot read previous {path}: {exc}") from exc


# --- serialisation ----------------------------------------------------------------------
