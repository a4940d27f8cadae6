"""Precision and recall of the lineage linker on its two labelled sets (tests/fixtures/lineage):

- the derived fixture (tables.json + labels.csv): 港区 and 鶴見区, R4 real, R5–R6 derived
  by hand with every change labelled;
- the real pairs (real/): real titles of one ward's items in two years, from the city's
  pages (each title with its address), labelled same / different by the rules in
  real/README.md, split into pairs tuned on and pairs held out.

Used by `make bench` (bench/run.py) and by tests/test_lineage.py; kept out of the package:
it is evaluation, not part of a build.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from osaka_unei.analysis.lineage import Node, build_lineage, node_refs, normalize_title

# ((ward_slug, level, fiscal_year, ref), (previous fiscal_year, previous ref))
LinkLabel = tuple[tuple[str, str, int, str], tuple[int, str]]


def _value(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _int(value: Any) -> int | None:
    value = _value(value)
    return None if value is None else int(value)


def predicted_links(lineage: pd.DataFrame) -> set[LinkLabel]:
    """The links of a lineage table, each node named as in labels.csv (code or pI.S.N)."""
    records = lineage.to_dict("records")
    nodes = [
        Node(
            policy_id=str(r["policy_id"]),
            ward_slug=str(r["ward_slug"]),
            fiscal_year=int(r["fiscal_year"]),
            level=str(r["level"]),
            issue_position=int(r["issue_position"]),
            strategy_position=_int(r["strategy_position"]),
            position=_int(r["position"]),
            code=_value(r["code"]),
            title=None,
            description=None,
        )
        for r in records
    ]
    refs = node_refs(nodes)
    located = {
        (str(r["lineage_id"]), str(r["policy_id"])): node
        for r, node in zip(records, nodes, strict=True)
    }
    links: set[LinkLabel] = set()
    for r, node in zip(records, nodes, strict=True):
        source = _value(r["linked_from"])
        if source is None:
            continue
        earlier = located[(str(r["lineage_id"]), str(source))]
        links.add(
            (
                (node.ward_slug, node.level, node.fiscal_year, refs[node.key]),
                (earlier.fiscal_year, refs[earlier.key]),
            )
        )
    return links


def read_labels(path: Path) -> set[LinkLabel]:
    """labels.csv → the true links (rows without a previous node are lineage starts)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            (
                (row["ward_slug"], row["level"], int(row["fiscal_year"]), row["node"]),
                (int(row["prev_fiscal_year"]), row["prev_node"]),
            )
            for row in csv.DictReader(handle)
            if row["prev_fiscal_year"]
        }


def evaluate(predicted: set[LinkLabel], truth: set[LinkLabel]) -> tuple[float, float]:
    """(precision, recall) of predicted links against the true ones (1.0 when empty)."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def load_fixture_tables(path: Path) -> dict[str, pd.DataFrame]:
    """tables.json of the lineage fixture → DataFrames like the core tables."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: pd.DataFrame(rows) for name, rows in data.items()}


def fixture_scores(fixture_dir: Path) -> dict[str, float]:
    """Precision and recall of the linker on the derived fixture (tables.json + labels.csv):
    {"precision", "recall", "links", "true_links"}."""
    tables = load_fixture_tables(fixture_dir / "tables.json")
    lineage, _ = build_lineage(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"]
    )
    predicted = predicted_links(lineage)
    truth = read_labels(fixture_dir / "labels.csv")
    precision, recall = evaluate(predicted, truth)
    return {
        "precision": precision,
        "recall": recall,
        "links": float(len(predicted)),
        "true_links": float(len(truth)),
    }


# --- the real pairs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Title:
    ward_slug: str
    fiscal_year: int
    level: str
    node: str  # "2" (issue), "2.1" (strategy): its place in what the page shows
    code: str | None  # printed on the page's heading; null where the title is from a list
    title: str
    source: str
    url: str


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    ward_slug: str
    earlier_year: int
    later_year: int
    split: str  # tune / holdout


@dataclass(frozen=True, slots=True)
class Pair:
    group: str
    level: str
    earlier_node: str
    later_node: str
    label: str  # same / unsure (every other pair of a group is different)
    rule: str


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_real(directory: Path) -> tuple[list[Title], list[Group], list[Pair]]:
    titles = [
        Title(
            r["ward_slug"],
            int(r["fiscal_year"]),
            r["level"],
            r["node"],
            r["code"] or None,
            r["title"],
            r["source"],
            r["url"],
        )
        for r in _rows(directory / "titles.csv")
    ]
    groups = [
        Group(r["group"], r["ward_slug"], int(r["earlier_year"]), int(r["later_year"]), r["split"])
        for r in _rows(directory / "groups.csv")
    ]
    pairs = [
        Pair(r["group"], r["level"], r["earlier_node"], r["later_node"], r["label"], r["rule"])
        for r in _rows(directory / "pairs.csv")
    ]
    return titles, groups, pairs


def group_tables(group: Group, titles: Iterable[Title]) -> dict[str, pd.DataFrame]:
    """The group's titles as core tables of two consecutive years (earlier year, earlier + 1):
    the pair is scored on its titles and structure, whatever the real gap (the real years are
    in titles.csv). Codes only where the page's heading prints one."""
    years = {group.earlier_year: group.earlier_year, group.later_year: group.earlier_year + 1}
    chosen = [t for t in titles if t.ward_slug == group.ward_slug and t.fiscal_year in years]
    policies, issues, strategies = [], [], []
    for real_year, year in years.items():
        pid = f"{group.ward_slug}-{year}"
        policies.append(
            {"policy_id": pid, "ward": "", "ward_slug": group.ward_slug, "fiscal_year": year}
        )
        for t in (t for t in chosen if t.fiscal_year == real_year):
            parts = [int(p) for p in t.node.split(".")]
            row = {"policy_id": pid, "title": t.title, "description": None}
            if t.level == "issue":
                issues.append(row | {"issue_position": parts[0], "issue_code": t.code})
            else:
                strategies.append(
                    row
                    | {
                        "issue_position": parts[0],
                        "position": parts[1],
                        "issue_code": None,
                        "strategy_code": t.code,
                    }
                )
    return {
        "policies": pd.DataFrame(policies),
        "issues": pd.DataFrame(issues),
        "strategies": pd.DataFrame(
            strategies,
            columns=[
                "policy_id",
                "title",
                "description",
                "issue_position",
                "position",
                "issue_code",
                "strategy_code",
            ],
        ),
        "initiatives": pd.DataFrame(
            columns=[
                "policy_id",
                "title",
                "description",
                "issue_position",
                "strategy_position",
                "position",
                "issue_code",
                "strategy_code",
                "initiative_code",
            ]
        ),
    }


def _node(row: Mapping[str, Any]) -> str:
    return str(row["node_key"])


def group_links(group: Group, titles: Iterable[Title]) -> set[tuple[str, str, str]]:
    """The linker's links in one group: (level, earlier node, later node)."""
    tables = group_tables(group, titles)
    lineage, _ = build_lineage(
        tables["policies"], tables["issues"], tables["strategies"], tables["initiatives"]
    )
    later = lineage[lineage["fiscal_year"] == group.earlier_year + 1]
    earlier = lineage[lineage["fiscal_year"] == group.earlier_year]
    by_id = {(str(r["lineage_id"]), str(r["level"])): _node(r) for r in earlier.to_dict("records")}
    return {
        (str(r["level"]), by_id[(str(r["lineage_id"]), str(r["level"]))], _node(r))
        for r in later.to_dict("records")
        if _value(r["linked_from"]) is not None
    }


def real_scores(directory: Path, split: str | None = None) -> dict[str, float]:
    """Precision and recall on the real pairs (of one split, or all): every link the linker
    makes in a group counts; it is right where the pair is labelled same, ignored where
    unsure, wrong otherwise. `reworded_*` count only same pairs whose titles differ."""
    titles, groups, pairs = read_real(directory)
    by_title = {(t.ward_slug, t.fiscal_year, t.level, t.node): t.title for t in titles}
    predicted = found = wrong = same = reworded = reworded_found = 0
    for group in groups:
        if split is not None and group.split != split:
            continue
        labels = {
            (p.level, p.earlier_node, p.later_node): p.label for p in pairs if p.group == group.name
        }
        links = group_links(group, titles)
        for link in links:
            label = labels.get(link, "different")
            if label == "unsure":
                continue
            predicted += 1
            wrong += label != "same"
        for (level, before, after), label in labels.items():
            if label != "same":
                continue
            same += 1
            hit = (level, before, after) in links
            found += hit
            a = by_title[(group.ward_slug, group.earlier_year, level, before)]
            b = by_title[(group.ward_slug, group.later_year, level, after)]
            if normalize_title(a) != normalize_title(b):
                reworded += 1
                reworded_found += hit
    return {
        "precision": (predicted - wrong) / predicted if predicted else 1.0,
        "recall": found / same if same else 1.0,
        "reworded_recall": reworded_found / reworded if reworded else 1.0,
        "links": float(predicted),
        "false_links": float(wrong),
        "same_pairs": float(same),
        "reworded_pairs": float(reworded),
        "reworded_found": float(reworded_found),
    }


def missed(directory: Path, split: str | None = None) -> list[tuple[str, str, str]]:
    """The same pairs the linker does not link: (group, earlier title, later title)."""
    titles, groups, pairs = read_real(directory)
    by_title = {(t.ward_slug, t.fiscal_year, t.level, t.node): t.title for t in titles}
    result = []
    for group in groups:
        if split is not None and group.split != split:
            continue
        links = group_links(group, titles)
        for p in pairs:
            if (
                p.group == group.name
                and p.label == "same"
                and (p.level, p.earlier_node, p.later_node) not in links
            ):
                result.append(
                    (
                        group.name,
                        by_title[(group.ward_slug, group.earlier_year, p.level, p.earlier_node)],
                        by_title[(group.ward_slug, group.later_year, p.level, p.later_node)],
                    )
                )
    return result
