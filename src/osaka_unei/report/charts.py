"""Charts as inline SVG: Vega-Altair specs rendered at build time by vl-convert.

The page carries the finished SVG, so it needs no script, no CDN and no network to show a
chart. Text stays text (<text> elements) and is drawn with the fonts named in FONT, so
Japanese labels render wherever a CJK font is installed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

import altair as alt
import pandas as pd
import vl_convert

from osaka_unei.errors import InternalError

# The same list as style.css: Noto on Linux, Hiragino on macOS, Yu Gothic on Windows.
FONT = '"Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif'
BUDGET_TITLE = "予算額(千円)"
_AMOUNT_FORMAT = ",d"  # d3-format: 32,550
_ID = re.compile(r'\sid="([^"]+)"')
_SIZE = re.compile(r'<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"')


class ChartError(InternalError, ValueError):
    """vl-convert produced an SVG with no size (an empty or broken spec)."""


def to_svg(chart: alt.TopLevelMixin) -> str:
    """A chart → one <svg> element, checked to have a non-zero width and height."""
    spec = (
        chart.configure(font=FONT)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=12, titleFontSize=12)
        .configure_legend(labelFontSize=12, titleFontSize=12)
        .to_dict()
    )
    svg = checked(vl_convert.vegalite_to_svg(spec))
    return stable_ids(svg, hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest())


def stable_ids(svg: str, seed: str) -> str:
    """Rename the SVG's ids (vl-convert numbers gradients with a per-process counter, so the
    same chart rendered twice in one process differs) to names derived from the chart spec:
    the same spec gives the same bytes, and two charts on one page never share an id."""
    names = {old: f"c{seed[:10]}-{n}" for n, old in enumerate(dict.fromkeys(_ID.findall(svg)))}
    if not names:
        return svg
    pattern = re.compile(
        r'(id="|url\(#|href="#)(' + "|".join(re.escape(old) for old in names) + r')(?=[")])'
    )
    return pattern.sub(lambda m: m.group(1) + names[m.group(2)], svg)


def checked(svg: str) -> str:
    """The <svg> element alone (no XML declaration inside HTML), if it has a size."""
    svg = svg[svg.find("<svg") :] if "<svg" in svg else svg
    size = _SIZE.match(svg)
    if size is None or float(size.group(1)) <= 0 or float(size.group(2)) <= 0:
        raise ChartError(f"chart rendered without a size: {svg[:120]!r}")
    return svg


def _amount_axis(title: str = BUDGET_TITLE) -> alt.Axis:
    return alt.Axis(title=title, format=_AMOUNT_FORMAT, grid=True)


def ward_year_budgets(frame: pd.DataFrame, ward_order: Sequence[str], years: Sequence[int]) -> str:
    """A heat map: wards (city order) × fiscal years, coloured by total budget.

    Stays readable at 24 × 14 cells, where grouped bars would not. frame: ward,
    fiscal_year, budget (千円)."""
    labels = [str(year) for year in years]
    data = frame.assign(年度=frame["fiscal_year"].astype(int).astype(str))
    base = alt.Chart(data).encode(
        x=alt.X(
            "年度:O",
            sort=labels,
            scale=alt.Scale(domain=labels),
            title="年度",
            axis=alt.Axis(labelAngle=0, orient="top"),
        ),
        y=alt.Y("ward:N", sort=list(ward_order), title=None),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "budget:Q",
            scale=alt.Scale(scheme="blues", zero=True),
            legend=alt.Legend(title=BUDGET_TITLE, format=_AMOUNT_FORMAT),
        ),
        tooltip=["ward:N", "年度:N", alt.Tooltip("budget:Q", format=_AMOUNT_FORMAT)],
    )
    return to_svg(cells.properties(width=alt.Step(52), height=alt.Step(26)))


def _bar_labels(chart: alt.Chart, horizontal: bool) -> alt.LayerChart | alt.FacetChart:
    """Bars with their amount written beside them (千円, thousands separators)."""
    text = chart.mark_text(
        align="left" if horizontal else "center",
        baseline="middle" if horizontal else "bottom",
        dx=4 if horizontal else 0,
        dy=0 if horizontal else -3,
        fontSize=11,
        color="#1f2328",
    ).encode(text=alt.Text("budget:Q", format=_AMOUNT_FORMAT))
    return alt.layer(chart, text)


def ward_budgets(frame: pd.DataFrame, ward_order: Sequence[str]) -> str:
    """One fiscal year: a bar per ward. frame: ward, budget (千円)."""
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#3b6ea5")
        .encode(
            y=alt.Y("ward:N", sort=list(ward_order), title=None),
            x=alt.X("budget:Q", axis=_amount_axis(), scale=alt.Scale(nice=True)),
        )
    )
    return to_svg(_bar_labels(bars, horizontal=True).properties(width=480, height=alt.Step(24)))


def year_budgets(frame: pd.DataFrame, years: Sequence[int]) -> str:
    """One ward: a bar per fiscal year; every year of `years` has its place, so a year
    whose page prints no amount is a visible gap. frame: fiscal_year, budget (千円)."""
    labels = [str(year) for year in years]
    data = frame.assign(年度=frame["fiscal_year"].astype(int).astype(str))
    bars = (
        alt.Chart(data)
        .mark_bar(color="#3b6ea5")
        .encode(
            x=alt.X(
                "年度:O",
                title="年度",
                sort=labels,
                scale=alt.Scale(domain=labels),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("budget:Q", axis=_amount_axis()),
        )
    )
    return to_svg(_bar_labels(bars, horizontal=False).properties(width=alt.Step(56), height=180))


def theme_budgets(frame: pd.DataFrame) -> str:
    """Budget by theme, stacked by fiscal year. frame: theme, fiscal_year, budget (千円)."""
    data = frame.assign(年度=frame["fiscal_year"].astype(int).astype(str))
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("theme:N", sort="-x", title=None),
            x=alt.X("sum(budget):Q", axis=_amount_axis()),
            color=alt.Color("年度:N", legend=alt.Legend(title="年度")),
        )
        .properties(width=480, height=alt.Step(26))
    )
    return to_svg(chart)


def lineage_budgets(frame: pd.DataFrame) -> str:
    """A small line of one item's budget over the years. frame: fiscal_year, budget (千円).

    Fixed size, so that a ward's lines line up as small multiples; the year axis is
    numeric, so a gap of years shows as a gap and labels thin out when crowded."""
    chart = (
        alt.Chart(frame)
        .mark_line(point=True, color="#3b6ea5")
        .encode(
            x=alt.X(
                "fiscal_year:Q",
                title=None,
                axis=alt.Axis(format="d", tickMinStep=1, labelOverlap=True),
                scale=alt.Scale(zero=False, nice=False, padding=12),
            ),
            y=alt.Y("budget:Q", axis=_amount_axis("千円"), scale=alt.Scale(zero=True)),
            tooltip=[
                alt.Tooltip("fiscal_year:Q", title="年度", format="d"),
                alt.Tooltip("budget:Q", title="千円", format=_AMOUNT_FORMAT),
            ],
        )
        .properties(width=240, height=110)
    )
    return to_svg(chart)
