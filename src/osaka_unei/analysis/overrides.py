"""Hand corrections of the lineage links, as data: data/lineage-overrides.csv.

The accepted actions and columns are listed here with an example each (as variants.py keeps
the page forms), so the file format is documented in one place and checked against it. A bad
row is an error message for the parse report, never an exception: one typo must not stop a
build. Whether a row's nodes exist is checked where the nodes are known (lineage.py).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Literal

from osaka_unei.models import LEVELS

Action = Literal["join", "split", "apart"]
OVERRIDES_NAME = "lineage-overrides.csv"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    required: bool
    meaning: str
    example: str


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: Action
    meaning: str
    example: str  # one CSV row, in FIELDS order


# A node is named by its printed code ("1-2-3") or, where the page prints none or the code
# repeats, by its positions "p{issue}.{strategy}.{initiative}" ("p1.2" for a strategy).
FIELDS: tuple[Field, ...] = (
    Field("action", True, "join, split or apart (see ACTIONS)", "join"),
    Field("ward_slug", True, "the ward both nodes belong to", "minato"),
    Field("level", True, "issue, strategy or initiative", "strategy"),
    Field("from_policy_id", True, "policy of the earlier node", "minato-2023"),
    Field("from_node", True, "earlier node: code or pI.S.N", "p2.1"),
    Field("to_policy_id", True, "policy of the later node", "minato-2024"),
    Field("to_node", True, "later node: code or pI.S.N", "p2.1"),
    Field("reason", False, "why, for the next reader", "renamed; same budget line"),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "join",
        "the later node continues the earlier one's lineage; any other link into the later "
        "node or out of the earlier one is cut",
        "join,minato,strategy,minato-2023,p2.1,minato-2024,p2.1,renamed; same budget line",
    ),
    ActionSpec(
        "split",
        "cut the link from the earlier node to the later one: the later node starts a lineage",
        "split,tsurumi,initiative,tsurumi-2022,1-1-1,tsurumi-2023,1-1-1,same words; new aim",
    ),
    ActionSpec(
        "apart",
        "the two nodes are different items: a link between them is cut, none is made, and the "
        "review queue (lineage_candidates) no longer offers the pair",
        "apart,minato,issue,minato-2022,6,minato-2023,p6,区政運営 ended; p6 is a new subject",
    ),
)
ACTION_NAMES: tuple[str, ...] = tuple(a.name for a in ACTIONS)

HEADER = ",".join(FIELD_NAMES)
# The longest line read (a real row is under 300 characters).
MAX_LINE_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class Override:
    line: int  # line in the file, for messages
    action: Action
    ward_slug: str
    level: str
    from_policy_id: str
    from_node: str
    to_policy_id: str
    to_node: str
    reason: str | None = None


def parse_overrides(text: str, name: str = OVERRIDES_NAME) -> tuple[list[Override], list[str]]:
    """CSV text → overrides, and one message per row that cannot be used.

    Lines starting with '#' and blank lines are comments. The header must name every
    required field; unknown columns are an error (a misspelt column would be ignored)."""
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return [], []
    errors: list[str] = []
    # A line longer than any real row (a 200 KB field broke csv's field limit: an internal
    # error that stopped every build) is a bad row, never read as CSV.
    too_long = [(n, line) for n, line in lines if len(line) > MAX_LINE_CHARS]
    errors += [
        f"{name} line {n}: {len(line):,} characters, at most {MAX_LINE_CHARS:,}"
        for n, line in too_long
    ]
    if too_long and too_long[0] == lines[0]:
        return [], errors
    lines = [(n, line) for n, line in lines if len(line) <= MAX_LINE_CHARS]
    # One line, one row: a quoted newline splits a row into two bad rows, not a crash.
    rows = [next(csv.reader([line]), []) for _, line in lines]
    header = [cell.strip() for cell in rows[0]]
    unknown = [h for h in header if h not in FIELD_NAMES]
    missing = [f.name for f in FIELDS if f.required and f.name not in header]
    if unknown or missing:
        errors.append(
            f"{name} line {lines[0][0]}: header must be {HEADER!r}"
            + (f"; unknown {unknown}" if unknown else "")
            + (f"; missing {missing}" if missing else "")
        )
        return [], errors
    overrides: list[Override] = []
    for (number, _), cells in zip(lines[1:], rows[1:], strict=True):
        where = f"{name} line {number}"
        if len(cells) != len(header):
            errors.append(f"{where}: {len(cells)} fields, expected {len(header)}")
            continue
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        empty = [f.name for f in FIELDS if f.required and not row.get(f.name)]
        if empty:
            errors.append(f"{where}: empty {', '.join(empty)}")
            continue
        if row["action"] not in ACTION_NAMES:
            errors.append(f"{where}: unknown action {row['action'][:40]!r} (use {ACTION_NAMES})")
            continue
        if row["level"] not in LEVELS:
            errors.append(f"{where}: unknown level {row['level'][:40]!r} (use {LEVELS})")
            continue
        overrides.append(
            Override(
                line=number,
                action=row["action"],  # type: ignore[arg-type]  # checked above
                ward_slug=row["ward_slug"],
                level=row["level"],
                from_policy_id=row["from_policy_id"],
                from_node=row["from_node"],
                to_policy_id=row["to_policy_id"],
                to_node=row["to_node"],
                reason=row.get("reason") or None,
            )
        )
    return overrides, errors
