"""Charts as inline SVG written from templates: axis ticks, bars, cells and lines, no library.

Each chart is one <svg> element whose width and height are its viewBox, so it is never
scaled: a 12 px label stays 12 px on a phone (a chart wider than the screen scrolls in its
own box, see style.css). Years are categories, one tick each, so no year is printed twice;
amounts are 千円 with thousands separators. Text is text (<text>), drawn with the page's
fonts, so Japanese labels render wherever a CJK font is installed; every mark has a
<title> (the browser's tooltip). The same numbers give the same bytes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from html import escape

FONT_PX = 12  # every label; the smallest text of any chart (tests check >= 10 px)
BAR = "#3b6ea5"
SUMMED = "#8fb3d9"  # a summed amount (下位項目の合計), lighter than a printed one
INK = "#1f2328"
MUTED = "#5b636b"
GRID = "#d8dee4"
# ~7 px per Latin digit, 12 px per Japanese character at 12 px
_WIDE = 12.0
_NARROW = 7.0


@functools.lru_cache(maxsize=4096)
def text_width(text: str) -> float:
    # each label's width made once (the same tick labels are on most charts)
    return sum(_NARROW if ord(ch) < 0x2000 else _WIDE for ch in text)


def amount(value: int) -> str:
    return f"{value:,}"


def nice_ticks(top: float, count: int = 4) -> list[int]:
    """0 and round steps up to at least `top` (1, 2, 2.5 or 5 × 10^k)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):  # a loop, not next(generator): drawn once per chart
        if m * power >= raw:
            step = max(int(m * power), 1)
            break
    ticks = [0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    w, h = round(width), round(height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
        f'font-size="{FONT_PX}" class="svgchart">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def _axis(name: str, labels: list[str]) -> str:
    """An axis's tick labels, grouped as Vega groups them (role-axis / role-axis-label), so
    that checks written for Vega charts read these too."""
    return (
        f'<g class="mark-group role-axis" aria-label="{escape(name)}">'
        f'<g class="role-axis-label">{"".join(labels)}</g></g>'
    )


def _plain(x: float, y: float, text: str, anchor: str, fill: str) -> str:
    """_text of a text that needs no escaping (digits, commas, a dash)."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{text}</text>'


@functools.lru_cache(maxsize=1024)
def _year_bars_axes(ticks: tuple[int, ...], years: tuple[int, ...], unit: str) -> tuple[float, str]:
    """year_bars' left margin, and its unit, grid and both axes: the same for every chart of
    the same years with the same ticks (most item pages share one of a few)."""
    top = ticks[-1]
    tick_texts = [f"{t:,}" for t in ticks]
    left = max(text_width(t) for t in tick_texts) + 10
    step = 52
    plot_w, plot_h = step * len(years), 150
    y0 = 22
    body = [_text(4, 13, f"({unit})", fill=MUTED)]
    y_labels = []
    right = left + plot_w
    for tick, text in zip(ticks, tick_texts, strict=True):
        y = y0 + plot_h - plot_h * tick / top
        body.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        y_labels.append(_plain(left - 4, y + 4, text, "end", MUTED))
    body.append(_axis(unit, y_labels))
    base = y0 + plot_h
    x_labels = [
        _plain(left + n * step + step / 2, base + 16, str(year), "middle", INK)
        for n, year in enumerate(years)
    ]
    body.append(_axis("年度", x_labels))
    return left, "".join(body)


def year_bars(
    points: Sequence[tuple[int, int | None, bool]], label: str, unit: str = "千円"
) -> str:
    """One bar per fiscal year (every year given has its place: a year without an amount is
    a visible gap). points: (year, amount or None, summed)."""
    # drawn for every item page: each number's text (digits and commas) needs no escaping
    values = [v for _, v, _ in points if v is not None]
    ticks = tuple(nice_ticks(max(values, default=0)))
    top = ticks[-1]
    step = 52
    plot_w, plot_h = step * len(points), 150
    y0 = 22  # room for the value labels above the highest bar
    left, axes = _year_bars_axes(ticks, tuple(year for year, _, _ in points), unit)
    width, height = left + plot_w + 10, plot_h + 58
    unit_e = escape(unit)
    body = [axes]
    base = y0 + plot_h
    for n, (year, value, summed) in enumerate(points):
        x = left + n * step
        if value is None:
            body.append(_plain(x + step / 2, base - 4, "—", "middle", MUTED))
            continue
        h = plot_h * value / top
        text = f"{value:,}"
        tip = f"{year}年度 {text} {unit_e}" + (" (下位項目の合計)" if summed else "")
        body.append(
            f'<rect x="{x + 8}" y="{base - h:.1f}" width="{step - 16}" height="{max(h, 0.5):.1f}" '
            f'fill="{SUMMED if summed else BAR}"><title>{tip}</title></rect>'
        )
        body.append(_plain(x + step / 2, base - h - 4, text, "middle", INK))
    body.append(_text(left + plot_w / 2, height - 6, "年度", "middle", MUTED))
    return _svg(width, height, label, body)


def ward_bars(rows: Sequence[tuple[str, int]], label: str, unit: str = "千円") -> str:
    """One horizontal bar per ward (in the order given), its amount written beside it."""
    ticks = nice_ticks(max((v for _, v in rows), default=0), 3)
    top = ticks[-1]
    left = max((text_width(name) for name, _ in rows), default=40) + 10
    plot_w, step = 200, 24
    right = max((text_width(amount(v)) for _, v in rows), default=40) + 12
    width = left + plot_w + right
    height = 24 + step * len(rows) + 24
    body = [_text(4, 14, f"({unit})", fill=MUTED)]
    y0 = 22
    for tick in ticks:
        x = left + plot_w * tick / top
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + step * len(rows)}" stroke="{GRID}"/>'
        )
    body.append(
        _axis(
            unit,
            [
                _text(
                    left + plot_w * t / top, y0 + step * len(rows) + 16, amount(t), "middle", MUTED
                )
                for t in (ticks[0], ticks[-1])
            ],
        )
    )
    body.append(
        _axis(
            "区",
            [_text(left - 6, y0 + n * step + 16, name, "end") for n, (name, _) in enumerate(rows)],
        )
    )
    for n, (name, value) in enumerate(rows):
        y = y0 + n * step
        w = plot_w * value / top
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="{step - 8}" fill="{BAR}">'
            f"<title>{escape(f'{name} {amount(value)} {unit}')}</title></rect>"
        )
        body.append(_text(left + w + 4, y + 16, amount(value)))
    return _svg(width, height, label, body)


def _shade(share: float) -> str:
    """White → the accent blue, by share (0…1)."""
    low, high = (239, 244, 250), (31, 78, 140)
    r, g, b = (round(a + (b - a) * share) for a, b in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(
    rows: Sequence[str],
    columns: Sequence[int],
    cells: dict[tuple[str, int], int],
    label: str,
    unit: str = "千円",
    titles: dict[str, str] | None = None,
) -> str:
    """Rows × fiscal years, each cell shaded by its amount (its value in the tooltip)."""
    top = max(cells.values(), default=0) or 1
    left = max((text_width(r) for r in rows), default=40) + 10
    cw, ch = 44, 24
    width = left + cw * len(columns) + 10
    height = 26 + ch * len(rows) + 40
    body = [
        _axis(
            "年度",
            [_text(left + n * cw + cw / 2, 18, str(y), "middle") for n, y in enumerate(columns)],
        ),
        _axis("", [_text(left - 6, 24 + m * ch + 16, name, "end") for m, name in enumerate(rows)]),
    ]
    for m, name in enumerate(rows):
        y = 24 + m * ch
        tip_name = (titles or {}).get(name, name)
        for n, year in enumerate(columns):
            value = cells.get((name, year))
            x = left + n * cw
            if value is None:
                body.append(
                    f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" '
                    f'fill="#fff" stroke="{GRID}"/>'
                )
                continue
            tip = f"{tip_name} {year}年度 {amount(value)} {unit}"
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" '
                f'fill="{_shade(value / top)}"><title>{escape(tip)}</title></rect>'
            )
    y = 24 + ch * len(rows) + 8
    for n, share in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        body.append(
            f'<rect x="{left + n * 24}" y="{y}" width="24" height="10" fill="{_shade(share)}"/>'
        )
    body.append(_text(left + 5 * 24 + 6, y + 10, f"0 – {amount(top)} {unit}", fill=MUTED))
    return _svg(width, height, label, body)
