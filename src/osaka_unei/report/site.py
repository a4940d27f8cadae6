"""The static site: index (coverage, budgets, themes), one page per ward, one per year.

`render_site` is deterministic: the same tables, coverage and built_at give the same bytes
(every frame is sorted before use, charts are rendered by vl-convert from sorted data, and
no clock is read). Links are relative, so the folder works from disk (file://) or any host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from osaka_unei.report import charts
from osaka_unei.report.coverage import STATUSES
from osaka_unei.report.figures import (
    Figures,
    Lineage,
    fmt_amount,
    fmt_count,
    lineages,
    theme_budgets,
)
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


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("osaka_unei.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["amount"] = fmt_amount
    env.filters["count"] = fmt_count
    return env


def _stylesheet() -> str:
    return resources.files("osaka_unei.report").joinpath("static/style.css").read_text("utf-8")


def built_label(built_at: dt.datetime) -> str:
    """'2026-11-21 09:54 JST (2026-11-21T00:54:51Z)'; a naive time is taken as UTC."""
    utc = built_at.replace(tzinfo=dt.UTC) if built_at.tzinfo is None else built_at
    utc = utc.astimezone(dt.UTC).replace(microsecond=0)
    jst = utc.astimezone(JST)
    return f"{jst:%Y-%m-%d %H:%M} JST ({utc:%Y-%m-%dT%H:%M:%SZ})"


def _value(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


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
        frame.itertuples(index=False),
        key=lambda r: (int(r.fiscal_year), order.get(r.ward_slug, 99), r.policy_id),
    )
    found = []
    for row in rows:
        fetched = _value(row.fetched_at)
        published = _value(row.published)
        found.append(
            Policy(
                policy_id=row.policy_id,
                ward=row.ward,
                ward_slug=row.ward_slug,
                fiscal_year=int(row.fiscal_year),
                label=str(_value(row.fiscal_year_label) or f"{int(row.fiscal_year)}年度"),
                title=str(_value(row.title) or ""),
                url=_value(row.url),
                goal=_value(row.goal),
                draft=bool(row.draft),
                published=f"{published:%Y-%m-%d}" if published is not None else None,
                n_issues=_value(row.n_issues),
                n_strategies=_value(row.n_strategies),
                n_initiatives=_value(row.n_initiatives),
                total=_value(row.total_budget_thousand_yen),
                sha256=str(_value(row.source_sha256) or ""),
                fetched_at=pd.Timestamp(fetched).strftime("%Y-%m-%d %H:%M:%SZ")
                if fetched is not None
                else "—",
                source_kind=str(_value(row.source_kind) or ""),
            )
        )
    return found


def _figure(svg: str, caption: str) -> Markup:
    return Markup('<figure class="chart">{}<figcaption>{}</figcaption></figure>').format(
        Markup(svg), caption
    )


def _coverage_context(coverage: pd.DataFrame) -> dict[str, Any]:
    years = sorted({int(y) for y in coverage["fiscal_year"]})
    cells = {(r.ward_slug, int(r.fiscal_year)): r for r in coverage.itertuples(index=False)}
    rows = []
    for name, slug in WARD_SLUGS.items():
        row = []
        for year in years:
            cell = cells.get((slug, year))
            status = str(cell.status) if cell is not None else "missing"
            messages = _value(cell.messages) if cell is not None else None
            tip = f"{name} {year}年度: {STATUS_LABELS[status][1]} / {STATUS_LABELS[status][2]}"
            row.append(
                {
                    "status": status,
                    "text": STATUS_LABELS[status][0],
                    "title": tip + (f" — {messages}" if messages else ""),
                    "policy_id": _value(cell.policy_id) if cell is not None else None,
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
        {"slug": slug, "ward": SLUG_WARDS[slug], "cells": [by_cell.get((slug, y)) for y in years]}
        for slug in wards
    ]
    chart = None
    data = pd.DataFrame(
        [
            {"ward": p.ward, "fiscal_year": p.fiscal_year, "budget": p.total}
            for p in policies
            if p.total is not None
        ],
        columns=["ward", "fiscal_year", "budget"],
    )
    if not data.empty:
        chart = _figure(
            charts.ward_year_budgets(data, [SLUG_WARDS[s] for s in wards], years),
            "区・年度ごとの予算額合計(千円) / total budget per ward and fiscal year",
        )
    return {"years": years, "rows": rows, "chart": chart}


def _themes_context(
    figures: Figures,
    themes: pd.DataFrame | None,
    policies: list[Policy],
    codebook: pd.DataFrame | None = None,
) -> dict[str, Any] | None:
    if themes is None:
        return None
    # a theme's Japanese name where the codebook table is given: 子育て・教育 (children)
    names = (
        {} if codebook is None else dict(zip(codebook["theme"], codebook["name_ja"], strict=True))
    )
    years_of = {p.policy_id: p.fiscal_year for p in policies}
    totals = theme_budgets(figures, themes, years_of)
    if totals.empty:
        return {"years": [], "rows": [], "chart": None}
    years = sorted({int(y) for y in totals["fiscal_year"]})
    cells = {(r.theme, int(r.fiscal_year)): int(r.budget) for r in totals.itertuples(index=False)}
    order = totals.groupby("theme")["budget"].sum().sort_values(ascending=False, kind="stable")
    rows = [
        {
            "theme": f"{names[theme]} ({theme})" if theme in names else theme,
            "cells": [cells.get((theme, y)) for y in years],
            "total": int(total),
        }
        for theme, total in sorted(order.items(), key=lambda item: (-item[1], item[0]))
    ]
    chart = _figure(
        charts.theme_budgets(totals), "テーマ別の予算額(千円) / budget by theme (thousand yen)"
    )
    return {"years": years, "rows": rows, "chart": chart}


def _ward_context(
    slug: str, policies: list[Policy], figures: Figures, found: list[Lineage]
) -> dict[str, Any]:
    own = [p for p in policies if p.ward_slug == slug]
    chart = None
    data = pd.DataFrame(
        [{"fiscal_year": p.fiscal_year, "budget": p.total} for p in own if p.total is not None],
        columns=["fiscal_year", "budget"],
    )
    if len(data) >= 2:  # one bar says nothing the table does not
        chart = _figure(
            charts.year_budgets(data, [p.fiscal_year for p in own]),
            "年度ごとの予算額合計(千円) / total budget per fiscal year",
        )
    lines = [
        {
            "title": item.title,
            "level": item.level,
            "lineage_id": item.lineage_id,
            "chart": _figure(charts.lineage_budgets(item.series), item.title),
        }
        for item in found
        if item.ward_slug == slug
    ]
    return {
        "ward": SLUG_WARDS[slug],
        "slug": slug,
        "policies": [{"policy": p, "tree": figures.trees.get(p.policy_id, [])} for p in own],
        "chart": chart,
        "lineages": lines,
    }


def _year_context(year: int, policies: list[Policy], coverage: pd.DataFrame) -> dict[str, Any]:
    own = sorted(
        (p for p in policies if p.fiscal_year == year), key=lambda p: WARD_ORDER.index(p.ward_slug)
    )
    data = pd.DataFrame(
        [{"ward": p.ward, "budget": p.total} for p in own if p.total is not None],
        columns=["ward", "budget"],
    )
    chart = None
    if not data.empty:
        chart = _figure(
            charts.ward_budgets(data, [SLUG_WARDS[s] for s in WARD_ORDER]),
            f"{year}年度 区ごとの予算額合計(千円) / total budget per ward",
        )
    cells = coverage[coverage["fiscal_year"] == year]
    ordered = sorted(cells.itertuples(index=False), key=lambda r: WARD_ORDER.index(r.ward_slug))
    waiting = [
        {
            "ja": STATUS_LABELS[status][1],
            "en": STATUS_LABELS[status][2],
            "wards": [SLUG_WARDS[str(r.ward_slug)] for r in ordered if r.status == status],
        }
        for status in ("error", "stored", "known")
    ]
    return {
        "year": year,
        "label": own[0].label if own else f"{year}年度",
        "policies": own,
        "chart": chart,
        "waiting": [group for group in waiting if group["wards"]],
    }


def render_site(
    tables: Mapping[str, pd.DataFrame],
    coverage: pd.DataFrame,
    built_at: dt.datetime,
    out_dir: Path,
) -> list[Path]:
    """Write the site into out_dir; return the files written, sorted.

    tables: the published tables (policies, issues, strategies, initiatives at least;
    `themes` and `lineage` are optional). coverage: `coverage_frame(...)`. out_dir is
    written into as is (the caller publishes it atomically); nothing is deleted."""
    env = _environment()
    policies = _policies(tables["policies"])
    figures = Figures.of(tables)
    ward_of = {p.policy_id: p.ward_slug for p in policies}
    found = lineages(figures, tables["lineage"], ward_of) if "lineage" in tables else []
    ward_slugs = [slug for slug in WARD_ORDER if any(p.ward_slug == slug for p in policies)]
    years = sorted({p.fiscal_year for p in policies})
    common = {
        "built": built_label(built_at),
        "city_url": CITY_URL,
        "ward_pages": [(slug, SLUG_WARDS[slug]) for slug in ward_slugs],
        "year_pages": years,
        "ward_set": set(ward_slugs),
    }

    pages: dict[str, str] = {}
    pages["index.html"] = env.get_template("index.html").render(
        **common,
        root="",
        coverage=_coverage_context(coverage),
        budgets=_budget_matrix(policies),
        themes=_themes_context(
            figures, tables.get("themes"), policies, tables.get("theme_codebook")
        ),
        n_policies=len(policies),
    )
    ward_template = env.get_template("ward.html")
    for slug in ward_slugs:
        pages[f"wards/{slug}.html"] = ward_template.render(
            **common, root="../", **_ward_context(slug, policies, figures, found)
        )
    year_template = env.get_template("year.html")
    for year in years:
        pages[f"years/{year}.html"] = year_template.render(
            **common, root="../", **_year_context(year, policies, coverage)
        )
    pages["style.css"] = _stylesheet()

    written = []
    for name, text in sorted(pages.items()):
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written
