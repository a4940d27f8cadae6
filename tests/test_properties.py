"""The property checks of tests/properties.py fail where they should and pass where they
should, on small hand-made examples and on charts drawn by report/charts.py."""

from __future__ import annotations

import pandas as pd
import pytest

from .properties import (
    AmountCell,
    amounts_in_html,
    assert_amount_cells_agree,
    assert_no_missing_tokens,
    assert_no_repeated_ticks,
    axis_labels,
    missing_tokens,
    shown_amount,
)

# --- missing-value words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "戦略nan 地域活動の支援",  # the 戦略nan: a Japanese word then nan
        "Total NaN 千円",
        "予算額: None",
        "published NaT",
        "budget <NA>",
        "undefined",
        "parent: null",
        "<p>戦略nan</p>",
        "<table><tr><td>32,550</td><td>&lt;NA&gt;</td></tr></table>",
        '<div><span title="予算額 NaN 千円">—</span></div>',
        '<svg xmlns="http://www.w3.org/2000/svg"><text>None</text></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g aria-label="budget: null"></g></svg>',
    ],
)
def test_missing_tokens_are_found(text: str) -> None:
    assert missing_tokens(text)
    with pytest.raises(AssertionError, match="missing-value words"):
        assert_no_missing_tokens(text)


@pytest.mark.parametrize(
    "text",
    [
        "戦略 地域活動の支援 32,550 千円",
        "— 千円",
        "finance nano Nonesuch annul nullify NaTa",  # longer words that contain the tokens
        "<p>地域活動の支援</p><p>—</p>",
        # scripts, styles and non-visible attributes are not user-visible text
        "<html><head><script>let x = null; if (x === undefined) {}</script>"
        '<style>.nan{}</style></head><body><p data-x="null" class="nan">—</p></body></html>',
        '<svg xmlns="http://www.w3.org/2000/svg"><text>2022</text></svg>',
    ],
)
def test_clean_text_passes(text: str) -> None:
    assert missing_tokens(text) == []
    assert_no_missing_tokens(text)


def test_plain_text_is_read_as_text_even_with_angle_brackets() -> None:
    # CLI output is not markup: <NA> in it is a missing value, not a tag.
    assert missing_tokens("issue 1  <NA>", markup=False)
    assert missing_tokens("x <NA> y")  # guessed as text: it does not start with a tag


# --- repeated ticks ----------------------------------------------------------------------------


def _axis_svg(labels: list[str], second: list[str] | None = None) -> str:
    def axis(name: str, texts: list[str]) -> str:
        spans = "".join(f"<text>{label}</text>" for label in texts)
        return (
            f'<g class="mark-group role-axis" aria-label="{name}"><g>'
            f'<g class="mark-rule role-axis-tick"><line/></g>'
            f'<g class="mark-text role-axis-label">{spans}</g>'
            f'<g class="mark-text role-axis-title"><text>千円</text></g></g></g>'
        )

    body = axis("X-axis", labels) + (axis("Y-axis", second) if second else "")
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{body}</svg>'


def test_repeated_tick_is_found() -> None:
    svg = _axis_svg(["2022", "2023", "2023"])
    with pytest.raises(AssertionError, match="2023"):
        assert_no_repeated_ticks(svg)


def test_ticks_repeated_across_axes_or_charts_are_fine() -> None:
    svg = _axis_svg(["0", "2022", "2023"], ["0", "20,000"])  # 0 on both axes: allowed
    assert axis_labels(svg) == [("X-axis", ["0", "2022", "2023"]), ("Y-axis", ["0", "20,000"])]
    page = f"<html><body>{svg}<p>…</p>{_axis_svg(['2022', '2023'])}</body></html>"
    assert_no_repeated_ticks(page)
    bad_page = f"<html><body>{svg}{_axis_svg(['2022', '2022'])}</body></html>"
    with pytest.raises(AssertionError, match="chart 2"):
        assert_no_repeated_ticks(bad_page)


def test_real_charts_are_read() -> None:
    """A chart drawn by report/svg.py: its axes are found and their labels read."""
    from osaka_unei.report.svg import year_bars

    years = list(range(2016, 2025))
    svg = year_bars([(y, 1000 * (y - 2016), False) for y in years], "x")
    axes = axis_labels(svg)
    assert len(axes) == 2
    x_labels = next(labels for name, labels in axes if name == "年度")
    assert "2016" in x_labels and "2024" in x_labels
    assert_no_repeated_ticks(svg)
    assert_no_missing_tokens(svg)


# --- amounts in HTML -----------------------------------------------------------------------------

REPORT = """<!DOCTYPE html><html><body><table>
<tr><th>経営課題</th><th>千円</th></tr>
<tr><td>区民主体のまちづくり</td>
<td class="summed" title="下位項目の合計" data-node="minato-2022:1" data-thousand-yen="32550">32,550 <small>(計)</small></td></tr>
<tr><td>地域課題解決に向けた取組の支援<br></td>
<td data-node="minato-2022:1.1.1" data-thousand-yen="32550"><span>32,550</span></td></tr>
<tr><td>地域活動協議会</td><td data-node="minato-2023:1.1" data-thousand-yen="">—</td></tr>
</table><p>合計 <span data-node="minato-2023:1" data-thousand-yen="65000">65,000 千円</span></p>
</body></html>"""

NODES = pd.DataFrame(
    {
        "policy_id": ["minato-2022", "minato-2022", "minato-2023", "minato-2023"],
        "node_key": ["1", "1.1.1", "1.1", "1"],
        "thousand_yen": pd.array([32550, 32550, None, 65000], dtype="Int64"),
        "printed": pd.array([False, True, None, True], dtype="boolean"),
    }
)


def test_amount_cells_are_read_with_their_nodes() -> None:
    cells = amounts_in_html(REPORT)
    assert cells == [
        AmountCell("minato-2022", "1", 32550, "32,550 (計)", True),
        AmountCell("minato-2022", "1.1.1", 32550, "32,550", False),
        AmountCell("minato-2023", "1.1", None, "—", False),
        AmountCell("minato-2023", "1", 65000, "65,000 千円", False),
    ]
    assert_amount_cells_agree(cells, NODES)


def test_amount_cells_that_disagree_fail() -> None:
    cells = amounts_in_html(REPORT)
    wrong_text = [cells[0], cells[1]._replace(text="32,500")]
    with pytest.raises(AssertionError, match="shows '32,500'"):
        assert_amount_cells_agree(wrong_text)
    other = NODES.copy()
    other.loc[3, "thousand_yen"] = 70000  # the table says another amount
    with pytest.raises(AssertionError, match="nodes says 70000"):
        assert_amount_cells_agree(cells, other)
    unmarked = [cells[0]._replace(summed=False)]  # a sum shown without its mark
    with pytest.raises(AssertionError, match="summed mark"):
        assert_amount_cells_agree(unmarked, NODES)
    with pytest.raises(AssertionError, match="no such node"):
        assert_amount_cells_agree([cells[0]._replace(node_key="9")], NODES)


def test_amount_cell_without_its_attribute_fails() -> None:
    with pytest.raises(AssertionError, match="no data-thousand-yen"):
        amounts_in_html('<td data-node="minato-2022:1">32,550</td>')
    with pytest.raises(AssertionError, match="policy_id:node_key"):
        amounts_in_html('<td data-node="minato-2022" data-thousand-yen="1">1</td>')
    with pytest.raises(AssertionError, match="data-thousand-yen"):
        amounts_in_html('<td data-node="a:1" data-thousand-yen="nan">—</td>')


@pytest.mark.parametrize(
    "text,expected",
    [("32,550", 32550), ("32,550 千円", 32550), ("32,550 (計)", 32550), ("—", None), ("0", 0)],
)
def test_shown_amount(text: str, expected: int | None) -> None:
    assert shown_amount(text) == expected


@pytest.mark.parametrize("text", ["nan", "1,2 3", "32,550 / 1,000"])
def test_shown_amount_refuses_what_is_no_amount(text: str) -> None:
    with pytest.raises(AssertionError):
        shown_amount(text)
