"""The nesting bound: a page whose elements nest too deep to parse in reasonable time is
refused, in one line, before the HTML parser sees it.

Building the tree takes more than linear time in the nesting depth: Lexbor itself for
nested blocks, the walk over inline elements in _node_lines for nested <span>/<b>.
Measured (2-core machine; Lexbor alone for <div>, _node_lines for <span>):
  depth      1,000   5,000   10,000   20,000   40,000   100,000
  <div>      0.004   0.04    0.15     0.87     4.9      42-75 s
  <span>     -       0.24    0.88     3.2      36 s     -
Ward pages nest under 30 deep. A page nested deeper than MAX_DEPTH is refused before
Lexbor sees it: the worst shape measured takes about 0.25 s there, about a second on a
machine four times slower, while twice the depth already costs four times as much.
"""

from __future__ import annotations

import re

from osaka_unei.errors import PageError

MAX_DEPTH = 5_000


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)|<!--")
# No end tag, no depth.
_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    "source track wbr"
)
# Their text is no markup: skipped to their end tag.
_RAW_TEXT = _names("script style textarea title xmp iframe noembed noframes")
_RAW_END = {name: re.compile(f"</{name}", re.I) for name in _RAW_TEXT}
# HTML's "special" elements: an inline element's end tag never closes past one.
_SPECIAL = _names(
    "address applet area article aside base basefont bgsound blockquote body br button caption "
    "center col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form "
    "frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li "
    "link listing main marquee menu meta nav noembed noframes noscript object ol p param "
    "plaintext pre script search section select source style summary table tbody td template "
    "textarea tfoot th thead title tr track ul wbr xmp"
)
# A special element's end tag closes past anything but these (it must be "in scope").
_SCOPE = _names("applet caption html table td th marquee object template")
_BUTTON_SCOPE = _SCOPE | {"button"}
# Start tags that close an open <p> first, and those that close their like (li in li, td
# in a row …): tag → (what it closes, where the search for it stops).
_P_CLOSERS = _names(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li dd dt listing main menu nav ol p "
    "pre search section summary table ul xmp"
)
_LIST_STOPS = _SPECIAL - {"address", "div", "p"}
_CELL_STOPS = frozenset({"tr", "table", "template", "html"})
_IMPLIED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), _LIST_STOPS),
    "dd": (frozenset({"dd", "dt"}), _LIST_STOPS),
    "dt": (frozenset({"dd", "dt"}), _LIST_STOPS),
    "td": (frozenset({"td", "th"}), _CELL_STOPS),
    "th": (frozenset({"td", "th"}), _CELL_STOPS),
    "tr": (frozenset({"tr"}), frozenset({"tbody", "thead", "tfoot"}) | _CELL_STOPS - {"tr"}),
    "option": (frozenset({"option"}), _SPECIAL),
}
# How far down the stack a close looks. The tree builder looks all the way down, so
# stopping early can only count deeper than it, never shallower; and a bounded look keeps
# the scan linear (a stack walk per end tag is what makes the tree builder quadratic).
_LOOK_DOWN = 8


def _close(
    stack: list[str], counts: dict[str, int], names: frozenset[str], stops: frozenset[str]
) -> None:
    """Pop down to and including the nearest of names, unless a stop element comes first."""
    for index in range(len(stack) - 1, max(len(stack) - 1 - _LOOK_DOWN, -1), -1):
        name = stack[index]
        if name in names:
            for popped in stack[index:]:
                counts[popped] -= 1
            del stack[index:]
            return
        if name in stops:
            return


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep the page's elements nest, opened and closed as the HTML tree builder would
    (its commonest implied closings included), in one linear scan that stops once the depth
    passes limit. Errs deeper, never much shallower (an end tag the builder would ignore
    is ignored here too)."""
    stack: list[str] = []
    counts: dict[str, int] = {}
    deepest = position = 0
    search = _TAG.search
    while (match := search(text, position)) is not None:
        position = match.end()
        name = match.group(2)
        if name is None:  # a comment: to its end
            end = text.find("-->", position)
            position = len(text) if end < 0 else end + 3
            continue
        name = name.lower()
        if match.group(1):  # an end tag
            if counts.get(name):
                stops = _SCOPE if name in _SPECIAL else _SPECIAL
                _close(stack, counts, frozenset((name,)), stops)
            continue
        if name in _VOID:
            continue
        if name in _P_CLOSERS and counts.get("p"):
            _close(stack, counts, frozenset(("p",)), _BUTTON_SCOPE)
        implied = _IMPLIED.get(name)
        if implied is not None and any(counts.get(like) for like in implied[0]):
            _close(stack, counts, *implied)
        stack.append(name)
        counts[name] = counts.get(name, 0) + 1
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > limit:
                break
        if name in _RAW_TEXT:
            end_tag = _RAW_END[name].search(text, position)
            position = len(text) if end_tag is None else end_tag.start()
    return deepest


def check_nesting(text: str) -> None:
    """PageError (one line) for a page nested deeper than MAX_DEPTH."""
    if text.count("<") <= MAX_DEPTH:
        return  # too few tags to nest deeper: no scan (the count runs in C)
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise PageError(
            f"page refused: its elements nest more than {MAX_DEPTH:,} deep "
            "(a ward page nests under 30; parsing this one could take minutes)"
        )
