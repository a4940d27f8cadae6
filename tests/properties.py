"""Property checks for everything a user sees (issue 18), reusable on every surface: CLI
output, report pages, inline SVG charts, SQLite views.

- `assert_no_missing_tokens(text)`: no nan / NaN / None / NaT / <NA> / undefined / null
  printed as a word, in plain text or in the visible text of HTML or SVG (text nodes and
  the title / alt / aria-label / placeholder attributes; scripts and styles aside).
- `assert_no_repeated_ticks(svg)`: no tick label printed twice on one chart axis (the
  Vega SVG that report/charts.py draws: each axis is a `role-axis` group whose labels are
  the `<text>` of its `role-axis-label` group). Takes one SVG or a page holding several.
- `amounts_in_html(html)`: every amount cell of the report, by the contract in PLAN.md:
  `data-node="{policy_id}:{node_key}"` and `data-thousand-yen` (empty where none), with
  the text shown and whether it is marked as a sum (`class="summed"`).
- `assert_amount_cells_agree(cells, nodes)`: each cell shows its own data attribute
  (`32,550` for 32550, `—` for none) and equals the `nodes` table's `thousand_yen`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any, NamedTuple

# Spellings of a missing value that must never reach a user. A word is bounded by anything
# but an ASCII letter, digit or underscore, so 戦略nan (a Japanese title then nan) is caught.
MISSING_TOKENS = ("nan", "NaN", "None", "NaT", "<NA>", "undefined", "null")
_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"
_MISSING = re.compile("|".join(_WORD.format(re.escape(token)) for token in MISSING_TOKENS))
# Attributes a user reads (tooltips, alternative text, screen readers, empty inputs).
VISIBLE_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder")
_HIDDEN_ELEMENTS = {"script", "style", "template"}
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
_MARKUP = re.compile(r"^\s*(?:<\?xml|<!DOCTYPE|<[A-Za-z!])", re.I)


class _TextCollector(HTMLParser):
    """The visible strings of an HTML or SVG document, each with where it was found."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.strings: list[tuple[str, str]] = []
        self._hidden = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attributes(tag, attrs)
        if tag in _VOID:
            return
        self._stack.append(tag)
        if tag in _HIDDEN_ELEMENTS:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attributes(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return
        while self._stack:
            closed = self._stack.pop()
            if closed in _HIDDEN_ELEMENTS:
                self._hidden -= 1
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            where = self._stack[-1] if self._stack else "document"
            self.strings.append((f"<{where}> text", data))

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden:
            return
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.strings.append((f"<{tag} {name}>", value))


def visible_strings(markup: str) -> list[tuple[str, str]]:
    """(where, string) for every text node and visible attribute of an HTML/SVG document."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return collector.strings


def missing_tokens(text: str, *, markup: bool | None = None) -> list[str]:
    """Each missing-value word found, with its context; `markup` None: guessed from the text
    (HTML/SVG if it starts with a tag or declaration)."""
    if markup is None:
        markup = bool(_MARKUP.match(text))
    strings = visible_strings(text) if markup else [("text", text)]
    found = []
    for where, string in strings:
        for match in _MISSING.finditer(string):
            start, end = max(0, match.start() - 30), match.end() + 30
            context = " ".join(string[start:end].split())
            found.append(f"{match.group(0)!r} in {where}: …{context}…")
    return found


def assert_no_missing_tokens(text: str, *, markup: bool | None = None, what: str = "") -> None:
    found = missing_tokens(text, markup=markup)
    label = f" in {what}" if what else ""
    assert not found, f"missing-value words shown{label}:\n" + "\n".join(found[:20])


# --- charts -----------------------------------------------------------------------------------

_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_SVG_NS = "{http://www.w3.org/2000/svg}"


def svgs_in(markup: str) -> list[str]:
    """Every <svg>…</svg> element of a page (or the one SVG given)."""
    return _SVG.findall(markup)


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def axis_labels(svg: str) -> list[tuple[str, list[str]]]:
    """(axis name, tick labels in order) for every axis of one Vega SVG."""
    root = ET.fromstring(svg)
    axes = []
    for group in root.iter(f"{_SVG_NS}g"):
        if not {"mark-group", "role-axis"} <= _classes(group):
            continue
        labels = [
            "".join(text.itertext()).strip()
            for inner in group.iter(f"{_SVG_NS}g")
            if "role-axis-label" in _classes(inner)
            for text in inner.iter(f"{_SVG_NS}text")
        ]
        if labels:
            axes.append((group.get("aria-label") or "axis", labels))
    return axes


def repeated_ticks(markup: str) -> list[str]:
    """Every axis (of every chart in the markup) that prints a tick label twice."""
    problems = []
    for number, svg in enumerate(svgs_in(markup), start=1):
        for axis, labels in axis_labels(svg):
            twice = sorted({label for label in labels if labels.count(label) > 1})
            if twice:
                problems.append(f"chart {number}, {axis}: {twice} in {labels}")
    return problems


def assert_no_repeated_ticks(svg: str, *, what: str = "") -> None:
    problems = repeated_ticks(svg)
    label = f" in {what}" if what else ""
    assert not problems, f"tick labels printed twice{label}:\n" + "\n".join(problems[:20])


# --- amounts in the report --------------------------------------------------------------------


class AmountCell(NamedTuple):
    """One amount shown in the report, tied to its node by the data attributes."""

    policy_id: str
    node_key: str
    thousand_yen: int | None  # data-thousand-yen; None where empty
    text: str  # the text shown in the cell, white space folded
    summed: bool  # class="summed": the sum of the children, not printed on the page


class _AmountCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[AmountCell] = []
        self._open: list[tuple[int, dict[str, str | None], list[str]]] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        self._depth += 1
        values = dict(attrs)
        if "data-node" in values:
            self._open.append((self._depth, values, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "data-node" in values:
            self._add(values, "")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self._open and self._open[-1][0] == self._depth:
            _, values, parts = self._open.pop()
            self._add(values, "".join(parts))
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._open:
            parts.append(data)

    def _add(self, values: Mapping[str, str | None], text: str) -> None:
        node = values.get("data-node") or ""
        policy_id, sep, node_key = node.partition(":")
        assert sep and policy_id and node_key, f"data-node is not policy_id:node_key: {node!r}"
        assert "data-thousand-yen" in values, f"amount cell {node} has no data-thousand-yen"
        raw = (values.get("data-thousand-yen") or "").strip()
        assert raw == "" or re.fullmatch(r"-?\d+", raw), f"{node}: data-thousand-yen {raw!r}"
        self.cells.append(
            AmountCell(
                policy_id,
                node_key,
                int(raw) if raw else None,
                " ".join(text.split()),
                "summed" in (values.get("class") or "").split(),
            )
        )


def amounts_in_html(html: str) -> list[AmountCell]:
    """Every element carrying data-node, in page order (see AmountCell)."""
    collector = _AmountCollector()
    collector.feed(html)
    collector.close()
    return collector.cells


_SHOWN = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+|—)")


def shown_amount(text: str) -> int | None:
    """The amount a cell shows: `32,550`, `32,550 千円`, `32,550 (計)` → 32550; `—` → None.
    Raises where the text is anything else (a malformed number, two numbers, a word)."""
    core = "".join(text.replace("千円", " ").replace("(計)", " ").split())
    match = _SHOWN.fullmatch(core)
    assert match is not None, f"not one amount: {text!r}"
    return None if core == "—" else int(core.replace(",", ""))


def assert_amount_cells_agree(
    cells: Iterable[AmountCell], nodes: Any | None = None, *, what: str = ""
) -> None:
    """Each cell shows the amount its data attribute names (`—` for none), and, given the
    `nodes` table (a DataFrame or records with policy_id, node_key, thousand_yen, printed),
    that amount is the node's thousand_yen, marked summed exactly where printed is false."""
    expected: dict[tuple[str, str], tuple[int | None, bool | None]] = {}
    if nodes is not None:
        records = nodes.to_dict("records") if hasattr(nodes, "to_dict") else list(nodes)
        for row in records:
            amount = row.get("thousand_yen")
            amount = None if amount is None or amount != amount else int(amount)
            printed = row.get("printed")
            printed = None if printed is None or printed != printed else bool(printed)
            expected[(str(row["policy_id"]), str(row["node_key"]))] = (amount, printed)
    problems = []
    for cell in cells:
        where = f"{cell.policy_id}:{cell.node_key}"
        shown = shown_amount(cell.text)
        if shown != cell.thousand_yen:
            problems.append(
                f"{where} shows {cell.text!r} but data-thousand-yen={cell.thousand_yen}"
            )
        if nodes is None:
            continue
        if (cell.policy_id, cell.node_key) not in expected:
            problems.append(f"{where}: no such node in the nodes table")
            continue
        amount, printed = expected[(cell.policy_id, cell.node_key)]
        if cell.thousand_yen != amount:
            problems.append(f"{where}: {cell.thousand_yen} shown, nodes says {amount}")
        if amount is not None and cell.summed != (printed is False):
            problems.append(f"{where}: summed mark {cell.summed}, nodes printed={printed}")
    label = f" in {what}" if what else ""
    assert not problems, f"amounts that disagree{label}:\n" + "\n".join(problems[:20])
