"""The static site: index (coverage, budgets, themes), a page per ward, per fiscal year and
per item (lineage), the data files and their dictionary, and an offline search.

`render_site` is deterministic: the same inputs give the same bytes (frames are sorted
before use, charts are SVG written from templates, no clock is read). Links are relative,
so the folder works from disk (file://) or any host; the only absolute links are to the
city's own pages (checked with fetch.urls).

Only what changed is drawn again: each page has a digest of its inputs (its own data, the
site's navigation and the report's code). `previous` names the folder of the last report and
`previous_digests` its pages' digests; a page whose digest is unchanged keeps that folder's
file (hard-linked, else copied), including the build time it shows, which is therefore when
that page's data last changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import html
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import jinja2
import pandas as pd
from markupsafe import Markup
from markupsafe import escape as markup_escape

from osaka_unei.analysis.themes import UNTAGGED, codebook_frame
from osaka_unei.dataset.tables import TableSpec
from osaka_unei.dataset.values import clean
from osaka_unei.fetch.urls import canonical_url
from osaka_unei.published import file_hash
from osaka_unei.report import svg
from osaka_unei.report.coverage import STATUSES
from osaka_unei.report.figures import (
    amount_cell,
    amount_text,
    code_label,
    fmt_amount,
    fmt_count,
    fmt_yen,
)
from osaka_unei.report.itempage import goals_html, item_main, parents_html, themes_html
from osaka_unei.report.nodes import LEVEL_JA, report_nodes
from osaka_unei.report.search import search_index_js
from osaka_unei.report.wardpage import ward_main
from osaka_unei.wards import SITE_URL, SLUG_WARDS, WARD_SLUGS

CITY_URL = SITE_URL
JST = dt.timezone(dt.timedelta(hours=9), "JST")
WARD_ORDER: tuple[str, ...] = tuple(WARD_SLUGS.values())  # city order
STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    # status → (cell text, Japanese legend, English legend)
    "ok": ("○", "解析済み", "parsed ok"),
    "warning": ("△", "解析済み(警告あり)", "parsed with warnings"),
    "error": ("×", "解析エラー", "parse error"),
    "stored": ("保", "保存済み・未解析", "stored, not parsed"),
    "known": ("・", "台帳のみ(未取得)", "known (in registry), not stored"),
    "missing": ("", "未把握", "no page known"),
}
assert set(STATUS_LABELS) == set(STATUSES)
CHANGE_JA = {
    "added": "追加",
    "removed": "削除",
    "retitled": "名称変更",
    "budget_changed": "予算額の変更",
    "description_changed": "説明の変更",
    "note_added": "注記の追加",
    "note_removed": "注記の削除",
    "field_changed": "記載の変更",
}
COMPARISON_JA = {"version": "版の更新", "draft_to_final": "案 → 確定"}
STATIC = ("style.css", "search.js")
DIGESTS_NAME = "report-pages.json"  # beside the pages: each page's inputs digest
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_NULL = re.compile(r"\bnull\b", re.IGNORECASE)


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """The templates compiled once and kept between runs (jinja2's cache in the temporary
    folder, its own and private; an entry holds its template's source checksum, so a
    changed template is compiled again): a report that redraws a few pages need not
    compile every template (~15-40 ms each). Best effort: an entry that cannot be read or
    written is compiled as if there were none."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry is a miss
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


@functools.cache
def _compiled_templates() -> jinja2.BytecodeCache | None:
    try:
        return _CompiledTemplates()
    except (OSError, RuntimeError):  # no private temporary folder: compile every time
        return None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("osaka_unei.report", "templates"),
        bytecode_cache=_compiled_templates(),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["amount"] = fmt_amount
    env.filters["yen"] = fmt_yen
    env.filters["count"] = fmt_count
    return env


def _static(name: str) -> str:
    return resources.files("osaka_unei.report").joinpath(f"static/{name}").read_text("utf-8")


def code_digest() -> str:
    """The report's own code, templates and static files: a change redraws every page."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def built_label(built_at: dt.datetime) -> str:
    """'2026-11-21 09:54 JST (2026-11-21T00:54:51Z)'; a naive time is taken as UTC."""
    utc = built_at.replace(tzinfo=dt.UTC) if built_at.tzinfo is None else built_at
    utc = utc.astimezone(dt.UTC).replace(microsecond=0)
    jst = utc.astimezone(JST)
    return f"{jst:%Y-%m-%d %H:%M} JST ({utc:%Y-%m-%dT%H:%M:%SZ})"


def city_href(url: Any) -> str | None:
    """An address on the city's site, as an href; None for anything else (never linked)."""
    url = clean(url)
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        return canonical_url(url, None)
    except ValueError:
        return None


def item_file(lineage_id: str) -> str:
    return f"items/{_SAFE.sub('_', lineage_id)}.html"


def _columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """Each column as a list of plain Python values, None for every kind of missing value."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        values = column.tolist()
        if column.hasnans:
            values = [None if m else v for v, m in zip(values, column.isna().tolist(), strict=True)]
        columns[name] = values
    return columns


def _records(
    frame: pd.DataFrame, columns: dict[str, list[Any]] | None = None
) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, None for every kind of missing value."""
    columns = _columns(frame) if columns is None else columns
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of `policies`, with plain Python values for the templates."""

    policy_id: str
    ward: str
    ward_slug: str
    fiscal_year: int
    label: str
    title: str
    url: str | None
    goal: str | None
    draft: bool
    published: str | None
    n_issues: int | None
    n_strategies: int | None
    n_initiatives: int | None
    total: int | None
    sha256: str
    fetched_at: str
    source_kind: str


def _policies(frame: pd.DataFrame) -> list[Policy]:
    order = {slug: i for i, slug in enumerate(WARD_ORDER)}
    rows = sorted(
        _records(frame),
        key=lambda r: (int(r["fiscal_year"]), order.get(r["ward_slug"], 99), r["policy_id"]),
    )
    found = []
    for row in rows:
        fetched, published = row.get("fetched_at"), row.get("published")
        found.append(
            Policy(
                policy_id=row["policy_id"],
                ward=row["ward"],
                ward_slug=row["ward_slug"],
                fiscal_year=int(row["fiscal_year"]),
                label=str(row.get("fiscal_year_label") or f"{int(row['fiscal_year'])}年度"),
                title=str(row.get("title") or ""),
                url=city_href(row.get("url")),
                goal=row.get("goal"),
                draft=bool(row.get("draft")),
                published=f"{pd.Timestamp(published):%Y-%m-%d}" if published is not None else None,
                n_issues=row.get("n_issues"),
                n_strategies=row.get("n_strategies"),
                n_initiatives=row.get("n_initiatives"),
                total=row.get("total_budget_thousand_yen"),
                sha256=str(row.get("source_sha256") or ""),
                fetched_at=pd.Timestamp(fetched).strftime("%Y-%m-%d %H:%M:%SZ")
                if fetched is not None
                else "—",
                source_kind=str(row.get("source_kind") or ""),
            )
        )
    return found


def _figure(svg_text: str, caption: str) -> Markup:
    # as Markup(...).format(Markup(svg_text), caption) writes it, without format's cost
    return Markup(
        f'<figure class="chart">{svg_text}<figcaption>{_caption(caption)}</figcaption></figure>'
    )


@functools.lru_cache(maxsize=64)
def _caption(caption: str) -> str:
    return str(markup_escape(caption))


@functools.lru_cache(maxsize=4096)
def _policy_total_cell(p: Policy) -> Markup:
    # on the index, its ward's and its year's page: made once (as Markup.format writes it)
    total = "" if p.total is None else markup_escape(p.total)
    return Markup(
        f'<td class="num" data-policy="{markup_escape(p.policy_id)}" '
        f'data-thousand-yen="{total}">{markup_escape(fmt_amount(p.total))}</td>'
    )


# --- the model the pages are drawn from ------------------------------------------------------


@dataclass(slots=True)
class Model:
    policies: list[Policy]
    by_policy: dict[str, Policy]
    nodes: list[dict[str, Any]]  # tree order within each policy
    by_key: dict[tuple[str, str], dict[str, Any]]
    tree: dict[str, list[dict[str, Any]]]  # policy_id → its nodes, in tree order
    items: dict[str, list[dict[str, Any]]]  # lineage_id → its nodes, by year
    theme_names: dict[str, tuple[str, str]]  # theme → (name_ja, name_en)


def _node_order(key: str) -> tuple[int, ...]:
    return tuple(int(part) for part in key.split("."))


# The nodes' columns no page shows (the policy's are read from `policies`): not converted.
_NODE_UNUSED = frozenset(
    (
        "ward",
        "ward_slug",
        "fiscal_year",
        "issue_position",
        "strategy_position",
        "position",
        "budget_thousand_yen",
        "parent_lineage_id",
    )
)


def _model(tables: Mapping[str, pd.DataFrame]) -> Model:
    policies = _policies(tables["policies"])
    by_policy = {p.policy_id: p for p in policies}
    frame = report_nodes(tables)
    frame = frame[[c for c in frame.columns if c not in _NODE_UNUSED]]
    nodes = [n for n in _records(frame) if n["policy_id"] in by_policy]
    nodes.sort(key=lambda n: (n["policy_id"], _node_order(n["node_key"])))
    by_key = {(n["policy_id"], n["node_key"]): n for n in nodes}
    tree: dict[str, list[dict[str, Any]]] = defaultdict(list)
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in nodes:
        node["label"] = code_label(node["level"], node["code"])
        node["href"] = item_file(node["lineage_id"]) if node.get("lineage_id") else None
        node["cell"] = amount_cell(
            node["policy_id"], node["node_key"], node["thousand_yen"], node["printed"]
        )
        tree[node["policy_id"]].append(node)
        if node.get("lineage_id"):
            items[node["lineage_id"]].append(node)
    for group in items.values():
        group.sort(key=lambda n: (by_policy[n["policy_id"]].fiscal_year, n["policy_id"]))
    codebook = tables.get("theme_codebook")
    if codebook is None or codebook.empty:
        codebook = codebook_frame()
    names = {str(r["theme"]): (str(r["name_ja"]), str(r["name_en"])) for r in _records(codebook)}
    names.setdefault(UNTAGGED, ("テーマなし", "untagged"))
    return Model(policies, by_policy, nodes, by_key, dict(tree), dict(items), names)


# --- page contexts ---------------------------------------------------------------------------


def _coverage_context(coverage: pd.DataFrame) -> dict[str, Any]:
    years = sorted({int(y) for y in coverage["fiscal_year"]})
    cells = {(r["ward_slug"], int(r["fiscal_year"])): r for r in _records(coverage)}
    rows = []
    for name, slug in WARD_SLUGS.items():
        row = []
        for year in years:
            cell = cells.get((slug, year))
            status = str(cell["status"]) if cell is not None else "missing"
            messages = cell.get("messages") if cell is not None else None
            tip = f"{name} {year}年度: {STATUS_LABELS[status][1]} / {STATUS_LABELS[status][2]}"
            row.append(
                {
                    "status": status,
                    "text": STATUS_LABELS[status][0],
                    "title": tip + (f" — {messages}" if messages else ""),
                    "policy_id": cell.get("policy_id") if cell is not None else None,
                    "year": year,
                }
            )
        rows.append({"ward": name, "slug": slug, "cells": row})
    counts = coverage["status"].value_counts()
    by_status = {status: int(counts.get(status, 0)) for status in STATUSES}
    return {
        "years": years,
        "rows": rows,
        "legend": [(s, *STATUS_LABELS[s]) for s in ("ok", "warning", "error", "stored", "known")],
        "by_status": by_status,
        "cells": len(coverage),
        "parsed": by_status["ok"] + by_status["warning"],
        "known_cells": len(coverage) - by_status["missing"],
        "known_pages": int(coverage["known_pages"].fillna(0).sum()),
        "stored_files": int(coverage["stored_files"].fillna(0).sum()),
        "first_year": years[0] if years else None,
        "last_year": years[-1] if years else None,
    }


def _budget_matrix(policies: list[Policy]) -> dict[str, Any]:
    years = sorted({p.fiscal_year for p in policies})
    by_cell = {(p.ward_slug, p.fiscal_year): p for p in policies}
    wards = [slug for slug in WARD_ORDER if any(p.ward_slug == slug for p in policies)]
    rows = [
        {
            "slug": slug,
            "ward": SLUG_WARDS[slug],
            "cells": [
                _policy_total_cell(by_cell[(slug, y)]) if (slug, y) in by_cell else None
                for y in years
            ],
        }
        for slug in wards
    ]
    cells = {(p.ward, p.fiscal_year): p.total for p in policies if p.total is not None}
    chart = None
    if cells:
        chart = _figure(
            svg.heat_map([SLUG_WARDS[s] for s in wards], years, cells, "区・年度ごとの予算額合計"),
            "区・年度ごとの予算額合計(千円、色の濃さ) / total budget per ward and fiscal year",
        )
    return {"years": years, "rows": rows, "chart": chart}


def _themes_context(model: Model, tagged: bool) -> dict[str, Any] | None:
    """Budget per theme and fiscal year: the nodes' counted amounts (each main amount once),
    by the node's themes; the wards of one year are added, different years never are. With
    how many wards each year holds."""
    if not tagged:
        return None
    totals: dict[tuple[str, int], int] = defaultdict(int)
    for node in model.nodes:
        amount = node.get("counted_thousand_yen")
        if amount is None:
            continue
        year = model.by_policy[node["policy_id"]].fiscal_year
        for theme in (node.get("themes") or UNTAGGED).split(";"):
            totals[(theme, year)] += int(amount)
    if not totals:
        return {"years": [], "rows": [], "chart": None, "wards": []}
    years = sorted({y for _, y in totals})
    order = list(model.theme_names)
    found = sorted({t for t, _ in totals}, key=lambda t: (order.index(t) if t in order else 99, t))
    names = {t: model.theme_names.get(t, (t, t)) for t in found}
    rows = [
        {
            "theme": theme,
            "ja": names[theme][0],
            "en": names[theme][1],
            "cells": [
                Markup(
                    '<td class="num" data-theme="{}" data-year="{}" data-thousand-yen="{}">{}</td>'
                ).format(theme, y, totals.get((theme, y), ""), fmt_amount(totals.get((theme, y))))
                for y in years
            ],
        }
        for theme in found
    ]
    chart = _figure(
        svg.heat_map(
            [names[t][0] for t in found],
            years,
            {(names[t][0], y): v for (t, y), v in totals.items()},
            "テーマ別・年度別の予算額",
            titles={names[t][0]: f"{names[t][0]} ({names[t][1]})" for t in found},
        ),
        "テーマ別・年度別の予算額(千円、色の濃さ。同じ年度の区を合計) / budget by theme and fiscal year",
    )
    wards = {y: [p.ward for p in model.policies if p.fiscal_year == y] for y in years}
    return {
        "years": years,
        "rows": rows,
        "chart": chart,
        "wards": [(y, len(wards[y]), "、".join(wards[y])) for y in years],
    }


def _ward_context(slug: str, model: Model) -> dict[str, Any]:
    own = [p for p in model.policies if p.ward_slug == slug]
    chart = None
    if sum(p.total is not None for p in own) >= 2:  # one bar says nothing the table does not
        years = range(own[0].fiscal_year, own[-1].fiscal_year + 1)
        totals = {p.fiscal_year: p.total for p in own}
        chart = _figure(
            svg.year_bars([(y, totals.get(y), False) for y in years], "年度ごとの予算額合計"),
            "年度ごとの予算額合計(千円) / total budget per fiscal year",
        )
    return {
        "ward": SLUG_WARDS[slug],
        "slug": slug,
        "policies": [
            {"policy": p, "total": _policy_total_cell(p), "tree": model.tree.get(p.policy_id, [])}
            for p in own
        ],
        "chart": chart,
    }


def _year_context(
    year: int,
    model: Model,
    coverage: pd.DataFrame,
    coverage_rows: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """coverage_rows: coverage's rows of the year, if already made (else made from it)."""
    own = {p.ward_slug: p for p in model.policies if p.fiscal_year == year}
    if coverage_rows is None:
        coverage_rows = _records(coverage[coverage["fiscal_year"] == year])
    cells = {r["ward_slug"]: r for r in coverage_rows}
    rows = []
    for name, slug in WARD_SLUGS.items():
        status = str(cells[slug]["status"]) if slug in cells else "missing"
        p = own.get(slug)
        rows.append(
            {
                "ward": name,
                "slug": slug,
                "policy": p,
                "total": _policy_total_cell(p) if p else None,
                "status": status,
                "status_ja": STATUS_LABELS[status][1],
                "status_en": STATUS_LABELS[status][2],
            }
        )
    bars = [
        (p.ward, p.total) for slug in WARD_ORDER if (p := own.get(slug)) and p.total is not None
    ]
    chart = None
    if bars:
        chart = _figure(
            svg.ward_bars(bars, f"{year}年度 区ごとの予算額合計"),
            f"{year}年度 区ごとの予算額合計(千円) / total budget per ward",
        )
    absent = [
        {
            "status": status,
            "ja": STATUS_LABELS[status][1],
            "en": STATUS_LABELS[status][2],
            "wards": [r["ward"] for r in rows if r["status"] == status and r["policy"] is None],
        }
        for status in ("error", "stored", "known", "missing")
    ]
    first = next(iter(own.values()), None)
    issues = [
        {
            "ward": p.ward,
            "slug": p.ward_slug,
            "issues": [n for n in model.tree.get(p.policy_id, []) if n["level"] == "issue"],
        }
        for slug in WARD_ORDER
        if (p := own.get(slug)) is not None
    ]
    return {
        "issues": issues,
        "year": year,
        "label": first.label if first else f"{year}年度",
        "rows": rows,
        "n_present": len(own),
        "chart": chart,
        "absent": [group for group in absent if group["wards"]],
    }


# The changes' columns an item page uses (to find a node's rows, and to list them).
_CHANGE_USED = frozenset(
    (
        "policy_id",
        "level",
        "code",
        "title",
        "old_value",
        "new_value",
        "change",
        "comparison",
        "old_budget_thousand_yen",
        "new_budget_thousand_yen",
        "to_fetched_at",
    )
)


_ROW_TEXT = (
    "level",
    "code",
    "title",
    "comparison",
    "change",
    "old_value",
    "new_value",
    "old_budget_thousand_yen",
    "new_budget_thousand_yen",
)


class Changes:
    """The `changes` rows, indexed for `of(node)`: the rows about a node are those of its
    policy at its level with its code (a coded node), or uncoded with its title as the
    title, old or new value (an uncoded node); in the table's order."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self.coded: dict[tuple[str, Any, Any], list[dict[str, Any]]] = defaultdict(list)
        self.uncoded: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
        self._found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._lines: dict[int, dict[str, Any]] = {}  # id(row) → _change_line(row)
        self.by_policy: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        frame = tables.get("changes")
        if frame is None or frame.empty:
            return
        frame = frame[[c for c in frame.columns if c in _CHANGE_USED]]
        columns = _columns(frame)
        # each row as text for a ward's digest (rows_text): the fields `of` matches a node
        # on and those `text` (and the item page) shows
        n_rows = len(frame)
        fields = [columns.get(name, [None] * n_rows) for name in _ROW_TEXT]
        # each row's day (_day), made once per distinct time (versions share a few)
        days = _days(frame["to_fetched_at"]) if "to_fetched_at" in columns else [None] * n_rows
        fields.append(days)
        for policy_id, row_text in zip(
            columns["policy_id"], zip(*fields, strict=True), strict=True
        ):
            self.by_policy[policy_id].append(row_text)
        for row, day in zip(_records(frame, columns), days, strict=True):
            row[_DAY] = day
            code = row.get("code")
            if code is None:
                self.uncoded[(row["policy_id"], row.get("level"))].append(row)
            else:
                self.coded[(row["policy_id"], row.get("level"), code)].append(row)

    def of(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        key = (node["policy_id"], node["node_key"])
        found = self._found.get(key)
        if found is None:
            if node["code"] is not None:
                found = self.coded.get((node["policy_id"], node["level"], node["code"]), [])
            else:
                title = node["title"]
                found = [
                    row
                    for row in self.uncoded.get((node["policy_id"], node["level"]), [])
                    if title in (row.get("title"), row.get("old_value"), row.get("new_value"))
                ]
            self._found[key] = found
        return found

    def text(self, node: Mapping[str, Any]) -> str:
        """The node's changes as text for a digest: each row's fields the page shows (its
        line is made of them), without formatting them."""
        return repr(
            [
                (
                    row.get("comparison"),
                    row.get("change"),
                    row.get("old_value"),
                    row.get("new_value"),
                    row.get("old_budget_thousand_yen"),
                    row.get("new_budget_thousand_yen"),
                    row[_DAY],
                )
                for row in self.of(node)
            ]
        )

    def rows_text(self, policy_ids: Sequence[str]) -> str:
        """Every row of these policies as text for a digest, in the table's order."""
        return repr([self.by_policy.get(policy_id, []) for policy_id in policy_ids])

    def lines(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The node's changes as the item page lists them (each row's made once)."""
        found = []
        for row in self.of(node):
            line = self._lines.get(id(row))
            if line is None:
                line = self._lines[id(row)] = _change_line(row)
            found.append(line)
        return found


def _change_line(row: dict[str, Any]) -> dict[str, Any]:
    old, new = row.get("old_value"), row.get("new_value")
    if row.get("change") == "budget_changed":
        old = fmt_yen(row.get("old_budget_thousand_yen"))
        new = fmt_yen(row.get("new_budget_thousand_yen"))
    when = row[_DAY] if _DAY in row else _day_or_none(row.get("to_fetched_at"))
    return {
        "comparison": COMPARISON_JA.get(str(row.get("comparison")), str(row.get("comparison"))),
        "change": CHANGE_JA.get(str(row.get("change")), str(row.get("change"))),
        "old": "" if old is None else str(old),
        "new": "" if new is None else str(new),
        "when": when if when is not None else "",
    }


_DAY = "_day"  # a changes row's to_fetched_at as _day makes it (Changes)


def _day_or_none(when: Any) -> str | None:
    return None if when is None else _day(when)


def _days(column: pd.Series) -> list[str | None]:
    """Each time's _day (None where missing), made once per distinct time."""
    codes, uniques = pd.factorize(column)
    made = [_day(when) for when in uniques]
    return [None if code < 0 else made[code] for code in codes.tolist()]


@functools.lru_cache(maxsize=4096)
def _day(when: Any) -> str:
    """A time as its date, '2026-04-02' (versions share a few fetch times: each made once)."""
    return f"{pd.Timestamp(when):%Y-%m-%d}"


def _themes_of(value: Any, names: Mapping[str, tuple[str, str]]) -> list[tuple[str, str]]:
    if not value:
        return []
    return [names.get(t, (t, t)) for t in str(value).split(";") if t]


class _ItemParts:
    """What several item pages share, made once per site: a node's parents (every sibling's
    are the same) and the themes and goals of a node's `themes` / `sdgs` values, each with
    its HTML (itempage)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._parents: dict[tuple[str, str], tuple[list[dict[str, Any]], str]] = {}
        self._themes: dict[Any, tuple[list[tuple[str, str]], str]] = {}
        self._goals: dict[Any, tuple[list[int], str]] = {}

    def parents(self, policy_id: str, key: str | None) -> tuple[list[dict[str, Any]], str]:
        if not key:
            return [], ""
        found = self._parents.get((policy_id, key))
        if found is None:
            chain = []
            at: str | None = key
            while at:
                parent = self.model.by_key.get((policy_id, at))
                if parent is None:
                    break
                chain.append(parent)
                at = parent["parent_key"]
            chain.reverse()
            parents = [
                {"level": LEVEL_JA[n["level"]], "label": n["label"], "title": n["title"]}
                for n in chain
            ]
            found = self._parents[(policy_id, key)] = (parents, parents_html(parents))
        return found

    def themes(self, value: Any) -> tuple[list[tuple[str, str]], str]:
        found = self._themes.get(value)
        if found is None:
            themes = _themes_of(value, self.model.theme_names)
            found = self._themes[value] = (themes, themes_html(themes))
        return found

    def goals(self, value: Any) -> tuple[list[int], str]:
        found = self._goals.get(value)
        if found is None:
            goals = [int(g) for g in str(value or "").split(";") if g]
            found = self._goals[value] = (goals, goals_html(goals))
        return found


def _item_context(
    lineage_id: str, model: Model, changes: Changes, parts: _ItemParts | None = None
) -> dict[str, Any]:
    if parts is None:
        parts = _ItemParts(model)
    group = model.items[lineage_id]
    latest = group[-1]
    ward = model.by_policy[latest["policy_id"]].ward
    years: list[dict[str, Any]] = []
    previous_title = None
    all_themes: dict[tuple[str, str], None] = {}
    all_goals: set[int] = set()
    for node in group:
        p = model.by_policy[node["policy_id"]]
        parents, parents_text = parts.parents(node["policy_id"], node["parent_key"])
        themes, themes_text = parts.themes(node.get("themes"))
        all_themes.update(dict.fromkeys(themes))
        goals, goals_text = parts.goals(node.get("sdgs"))
        all_goals.update(goals)
        years.append(
            {
                "year": p.fiscal_year,
                "label": p.label,
                "policy": p,
                "node": node,
                "renamed": previous_title is not None and node["title"] != previous_title,
                "parents": parents,
                "themes": themes,
                "sdgs": goals,
                "changes": changes.lines(node),
                "amount": amount_text(node["thousand_yen"], node["printed"]),
                # their HTML (itempage), made once for all the nodes that share them
                "parents_html": parents_text,
                "themes_html": themes_text,
                "sdgs_html": goals_text,
            }
        )
        previous_title = node["title"]
    span = range(years[0]["year"], years[-1]["year"] + 1)
    by_year = {y["year"]: y["node"] for y in years}
    points = [
        (
            y,
            by_year[y]["thousand_yen"] if y in by_year else None,
            by_year.get(y, {}).get("printed") is False,
        )
        for y in span
    ]
    chart = None
    if any(v is not None for _, v, _ in points):
        chart = _figure(
            svg.year_bars(points, latest["title"]),
            "年度ごとの金額(千円。薄い色は下位項目の合計) / amount per fiscal year (light: sum of the items beneath)",
        )
    return {
        "lineage_id": lineage_id,
        "title": latest["title"],
        "level": latest["level"],
        "level_ja": LEVEL_JA[latest["level"]],
        "ward": ward,
        "slug": model.by_policy[latest["policy_id"]].ward_slug,
        "years": years,
        "titles": list(dict.fromkeys(n["title"] for n in group)),
        "themes": list(all_themes),
        "sdgs": sorted(all_goals),
        "chart": chart,
    }


# --- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Download:
    name: str
    size: int


def _size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size} B"


def _data_context(
    downloads: Sequence[Download], build_id: str | None, specs: Sequence[TableSpec], data_href: str
) -> dict[str, Any]:
    tables = {spec.name for spec in specs}
    files = [
        {
            "name": d.name,
            "href": data_href + d.name,
            "size": _size(d.size),
            "bytes": d.size,
            "table": d.name.rsplit(".", 1)[0] if d.name.rsplit(".", 1)[0] in tables else None,
        }
        for d in sorted(downloads, key=lambda d: d.name)
    ]
    return {"files": files, "build_id": build_id}


def _dictionary_context(specs: Sequence[TableSpec]) -> dict[str, Any]:
    return {
        "tables": [
            {
                "name": spec.name,
                "ja": spec.ja,
                "en": spec.en,
                "key": spec.key,
                # "null" is what the data holds; the pages say "empty" (no null on any page)
                "columns": [
                    asdict(c) | {"en": _NULL.sub("empty", c.en), "ja": _NULL.sub("空", c.ja)}
                    for c in spec.columns
                ],
            }
            for spec in specs
        ]
    }


def _digest(code: str, *parts: str) -> str:
    """A page's inputs digest: the report's code, its template and its data (the parts:
    reprs of plain values and frozen dataclasses, deterministic, one a line: a repr holds
    no line break)."""
    return hashlib.sha256("\n".join((code, *parts)).encode("utf-8")).hexdigest()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _without_gc(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """The function run with the cyclic garbage collector paused: drawing makes ~10^5 small
    objects (freed by reference counting, no cycles to speak of), whose allocations would
    otherwise start collections that walk every object of the loaded tables again."""

    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return run


@_without_gc
def render_site(
    tables: Mapping[str, pd.DataFrame],
    coverage: pd.DataFrame,
    built_at: dt.datetime,
    out_dir: Path,
    *,
    downloads: Sequence[Download] = (),
    build_id: str | None = None,
    specs: Sequence[TableSpec] = (),
    data_href: str = "../processed/",
    previous: Path | None = None,
    previous_digests: Mapping[str, str] | None = None,
    previous_hashes: Mapping[str, str] | None = None,
    hashes: dict[str, str] | None = None,
    kept: dict[str, str] | None = None,
    intact: Callable[[Mapping[str, str]], Collection[str]] | None = None,
    previous_wards: Mapping[str, str] | None = None,
    wards: dict[str, str] | None = None,
) -> list[Path]:
    """Write the site into out_dir; return the site's files, sorted (with the digests file,
    DIGESTS_NAME, among them; with `kept`, those it names are not written into out_dir).

    tables: the published tables (policies, issues, strategies, initiatives at least;
    `nodes`, `themes`, `lineage`, `sdgs`, `changes` and `theme_codebook` are optional).
    coverage: `coverage_frame(...)`. downloads: the published files (name, size), linked as
    data_href + name; specs: every published table's column specs (the dictionary).
    out_dir is written into as is (the caller publishes it atomically); `hashes`, if given,
    gets each file's hash (published.file_hash, made from the bytes written, or the
    previous report's for a page kept), by name, so that publishing need not read them.

    A page whose digest is unchanged is kept if the previous report's file is intact: has
    the bytes previous_hashes names (`intact`, given name → hash, returns the names that
    are; by default each file is read and hashed). It is hard-linked (else copied) into
    out_dir, or, with `kept` given, not written at all: its name and hash go into `kept`,
    for a publisher that carries the previous folder's file over (publish.atomic).

    wards gets, for each ward, a digest of everything its own item pages are made from
    (`_ward_items_digest`); where previous_wards (the last report's) has the same, the
    ward's own item pages keep their previous digests without their inputs being made."""
    env = _environment()
    model = _model(tables)
    code = code_digest()
    ward_slugs = [slug for slug in WARD_ORDER if any(p.ward_slug == slug for p in model.policies)]
    years = sorted({p.fiscal_year for p in model.policies})
    common = {
        "city_url": CITY_URL,
        "ward_pages": [(slug, SLUG_WARDS[slug]) for slug in ward_slugs],
        "year_pages": years,
        "ward_set": ward_slugs,
        "has_data": bool(downloads),
        "has_dictionary": bool(specs),
    }
    changes = Changes(tables)
    texts = _Texts(model, changes)
    item_parts = _ItemParts(model)
    wards_nodes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in model.nodes:
        wards_nodes[model.by_policy[node["policy_id"]].ward_slug].append(node)
    years_issues: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for node in model.nodes:
        if node["level"] == "issue":
            years_issues[model.by_policy[node["policy_id"]].fiscal_year].append(node)
    # name → (template, inputs, context): the digest is made from the inputs (cheap); the
    # context, and the page, only where the digest changed
    pages: dict[str, tuple[str, Callable[[], Any], Callable[[], dict[str, Any]]]] = {}
    index_context = functools.cache(
        lambda: {
            "coverage": _coverage_context(coverage),
            "budgets": _budget_matrix(model.policies),
            "themes": _themes_context(model, "themes" in tables),
            "n_policies": len(model.policies),
        }
    )
    pages["index.html"] = ("index.html", index_context, index_context)

    coverage_years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _records(coverage):
        coverage_years[int(row["fiscal_year"])].append(row)

    @functools.cache
    def ward_inputs(slug: str) -> str:
        return "\n".join(
            [
                *(texts.policy[p.policy_id] for p in model.policies if p.ward_slug == slug),
                *(texts.node(n) for n in wards_nodes[slug]),
            ]
        )

    def year_inputs(y: int) -> str:
        return "\n".join(
            [
                *(texts.policy[p.policy_id] for p in model.policies if p.fiscal_year == y),
                repr(coverage_years.get(y, [])),
                *(texts.node(n) for n in years_issues[y]),
            ]
        )

    for slug in ward_slugs:
        pages[f"wards/{slug}.html"] = (
            "ward",  # written in Python (wardpage.py) into the shell template
            functools.partial(ward_inputs, slug),
            functools.partial(_ward_context, slug, model),
        )
    for year in years:
        pages[f"years/{year}.html"] = (
            "year.html",
            functools.partial(year_inputs, year),
            functools.partial(_year_context, year, model, coverage, coverage_years.get(year, [])),
        )
    for lineage_id in sorted(model.items):
        pages[item_file(lineage_id)] = (
            "item",  # written in Python (itempage.py) into the shell template
            functools.partial(texts.item, lineage_id),
            functools.partial(_item_context, lineage_id, model, changes, item_parts),
        )
    if downloads:
        data = functools.cache(lambda: _data_context(downloads, build_id, specs, data_href))
        pages["data.html"] = ("data.html", data, data)
    if specs:
        dictionary = functools.cache(lambda: _dictionary_context(specs))
        pages["dictionary.html"] = ("dictionary.html", dictionary, dictionary)

    label = built_label(built_at)
    chrome = {
        root: {
            "header": Markup(
                env.get_template("_header.html").render(**common, root=root, built=label)
            ),
            "footer": Markup(
                env.get_template("_footer.html").render(**common, root=root, built=label)
            ),
        }
        for root in ("", "../")
    }
    shells = {}
    for root, parts in chrome.items():
        shell = env.get_template("shell.html").render(**common, root=root, chrome=parts)
        head, rest = shell.split("@@TITLE@@")
        middle, tail = rest.split("@@MAIN@@")
        shells[root] = (head, middle, tail)
    old = dict(previous_digests or {})
    digests: dict[str, str] = {}
    written = []
    templates: dict[str, jinja2.Template] = {}
    # the theme names the pages show are the codebook's (a table of the build, not code)
    common_inputs = repr((sorted(common.items()), sorted(model.theme_names.items())))
    writer = _Writer(hashes if hashes is not None else {})
    # Each ward's own items (every node of the lineage in that ward; lineages are linked
    # within a ward) are made from that ward's policies, nodes and changes only: when none
    # of them, nor the code, changed, nor which items are the ward's own, their digests are
    # the previous report's (an item of several wards is always digested on its own).
    item_wards: dict[str, set[str]] = {}
    for lineage_id, group in model.items.items():
        item_wards[lineage_id] = {model.by_policy[n["policy_id"]].ward_slug for n in group}
    own: dict[str, list[str]] = defaultdict(list)
    for lineage_id in sorted(model.items):
        if len(item_wards[lineage_id]) == 1:
            own[next(iter(item_wards[lineage_id]))].append(lineage_id)
    reused: dict[str, str] = {}
    for slug in ward_slugs:
        key = _digest(
            code,
            "items of a ward",
            common_inputs,
            ward_inputs(slug),
            changes.rows_text([p.policy_id for p in model.policies if p.ward_slug == slug]),
            repr(own[slug]),
        )
        if wards is not None:
            wards[slug] = key
        if (previous_wards or {}).get(slug) == key:
            for lineage_id in own[slug]:
                name = item_file(lineage_id)
                if name in old:
                    reused[name] = old[name]
    for name, (template, inputs, _) in pages.items():
        if name in reused:
            digests[name] = reused[name]
            continue
        page_inputs = inputs()
        if not isinstance(page_inputs, str):
            page_inputs = repr(page_inputs)
        root = "../" * name.count("/")
        digests[name] = _digest(code, template, root, common_inputs, page_inputs)
    # the pages whose inputs are unchanged, if the previous report's file is intact
    before = previous_hashes or {}
    unchanged = {
        name: before[name]
        for name, digest in digests.items()
        if old.get(name) == digest and name in before
    }
    if previous is None or not unchanged:
        keep: Collection[str] = ()
    elif intact is not None:
        keep = set(intact(unchanged))
    else:
        keep = {name for name, digest in unchanged.items() if _intact(previous / name, digest)}
    for name, (template, _, make) in sorted(pages.items()):
        written.append(name)
        if name in keep:
            assert previous is not None
            if kept is not None:
                kept[name] = before[name]
                continue
            path = out_dir / name
            writer.folder(path.parent)
            _keep(previous / name, path)
            writer.hashes[name] = before[name]
            continue
        root = "../" * name.count("/")
        path = out_dir / name
        writer.folder(path.parent)
        if template in ("item", "ward"):
            context = make()
            head, middle, tail = shells[root]
            if template == "item":
                title = html.escape(f"{context['title']}({context['ward']})")
                main = item_main(context)
            else:
                title, main = str(markup_escape(context["ward"])), ward_main(context)
            writer.write(name, path, head + title + middle + main + tail)
        else:
            if template not in templates:
                templates[template] = env.get_template(template)
            context = make()
            writer.write(
                name,
                path,
                templates[template].render(**common, **context, root=root, chrome=chrome[root]),
            )
    # the search index and the static files: made from everything, cheap to write
    extra = {name: _static(name) for name in STATIC}
    extra["search-index.js"] = search_index_js(model.nodes, model.by_policy, _ward_href)
    extra[DIGESTS_NAME] = json.dumps(digests, indent=0, sort_keys=True) + "\n"
    for name, text in extra.items():
        writer.write(name, out_dir / name, text)
        written.append(name)
    return [out_dir / name for name in sorted(written)]


_NODE_INPUTS = (
    "policy_id",
    "level",
    "node_key",
    "parent_key",
    "code",
    "title",
    "description",
    "thousand_yen",
    "printed",
    "lineage_id",
    "themes",
    "sdgs",
)


def _node_inputs(node: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(node.get(name) for name in _NODE_INPUTS)


class _Texts:
    """The inputs of the pages as text for their digests, each node's and policy's made once
    (a node is on its ward's page, maybe its year's, and its item's)."""

    def __init__(self, model: Model, changes: Changes) -> None:
        self.model = model
        self.changes = changes
        self.policy = {p.policy_id: repr(p) for p in model.policies}
        self._nodes: dict[tuple[str, str], str] = {}

    def node(self, node: Mapping[str, Any]) -> str:
        key = (node["policy_id"], node["node_key"])
        text = self._nodes.get(key)
        if text is None:
            text = self._nodes[key] = repr(_node_inputs(node))
        return text

    def item(self, lineage_id: str) -> str:
        """What an item page shows: its nodes, their parents, policies and changes (as the
        page lists them)."""
        model = self.model
        found = []
        for node in model.items[lineage_id]:
            pid = node["policy_id"]
            parents = []
            key = node["parent_key"]
            while key and (parent := model.by_key.get((pid, key))) is not None:
                parents.append((parent["level"], parent["code"], parent["title"]))
                key = parent["parent_key"]
            found += [
                self.node(node),
                repr(parents),
                self.policy[pid],
                self.changes.text(node),
            ]
        return "\n".join(found)


class _Writer:
    """Writes the site's files, each file's hash (file_hash) made from the bytes written into
    `hashes`, and each folder made once. In the drawing thread: on one core, writer threads
    cost more than they save (the digests' hashing releases the GIL and waits to get it
    back from them)."""

    def __init__(self, hashes: dict[str, str]) -> None:
        self._folders: set[Path] = set()
        self.hashes = hashes

    def folder(self, path: Path) -> None:
        if path not in self._folders:
            path.mkdir(parents=True, exist_ok=True)
            self._folders.add(path)

    def write(self, name: str, path: Path, text: str) -> None:
        self.hashes[name] = _write(path, text.encode("utf-8"))


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return file_hash(data)


def _intact(source: Path | None, expected: str | None) -> bool:
    """Whether the previous report's page is there with the bytes its manifest names (a
    page edited or damaged since is drawn again, never kept)."""
    if source is None or expected is None:
        return False
    try:
        return file_hash(source.read_bytes()) == expected
    except OSError:  # not there, or not a file
        return False


def _keep(source: Path, path: Path) -> None:
    """An unchanged page: the previous report's file itself (a hard link: no bytes written,
    nothing new to sync), else a copy of its bytes."""
    try:
        os.link(source, path)
    except OSError:
        path.write_bytes(source.read_bytes())


def _ward_href(node: Mapping[str, Any], policy: Policy) -> str:
    return f"wards/{policy.ward_slug}.html#n-{policy.policy_id}-{node['node_key']}"


def read_digests(folder: Path | None) -> dict[str, str]:
    """The page digests a previous report wrote ({} if none)."""
    if folder is None or not (folder / DIGESTS_NAME).is_file():
        return {}
    try:
        found = json.loads((folder / DIGESTS_NAME).read_text("utf-8"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
