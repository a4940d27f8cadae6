"""Bytes → one ordered stream of lines, from an HTML page or from a text capture.

The HTML template of www.city.osaka.lg.jp (see docs in the README and site-notes):
``div#sub_h1_box > h1`` holds the title, ``div.page_day01 > p`` the date,
``div.page_num01 span.p_coler01`` the page number and ``div#mol_contents`` the body.
Pages without ``#mol_contents`` fall back to everything after the h1. Headings may be h2/h3
or bold ``<p>`` lines and bullets ``<li>`` or ``・`` paragraphs, so the extractor keeps no
heading levels: it emits lines (one per block or ``<br>``) with a bullet flag, and the rules
in ``parse`` read the text. A text capture enters the same stream, line by line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from operator import attrgetter, itemgetter
from typing import Literal, NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode

from osaka_unei.decoding import decode_detailed
from osaka_unei.parse.nesting import check_nesting
from osaka_unei.text import clean_line, nfkc


class Line(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: a page makes ~50 of them, and a frozen
    dataclass's __init__ costs several times a tuple's (profiled)."""

    text: str
    bullet: bool = False


@dataclass(slots=True)
class Extracted:
    lines: list[Line]
    source_format: Literal["html", "text"]
    warnings: list[str]


# Bullet marks that start a line: capture bullets (•, '- ', indented '1. ') and ・/○ paragraphs.
_BULLET = re.compile(r"^(?:[•・○◯●◆◇■□▪]|-\s)\s*")
_BULLET_START = frozenset("•・○◯●◆◇■□▪-")  # the first characters _BULLET can match
_CAPTURE_NUMBERED = re.compile(r"^\s+\d{1,2}\.\s+")
# Stripped from the input by CONTROL_CHARS, so no raw byte of a page gives one; a character
# reference (&#x1e;, &#x1f;) still can, and then only breaks a line or is white space there.
_LINE_SEP = "\x1e"
_BULLET_MARK = "\x1f"

# fmt: off
_BLOCK_TAGS = frozenset((
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "table",
    "tr", "td", "th", "caption", "blockquote", "pre", "section", "article", "header",
    "footer", "nav", "aside", "main", "address", "figure", "figcaption", "hr", "center",
    "form",
))
# fmt: on
_BREAK_TAGS = _BLOCK_TAGS | {"br"}
# Characters NFKC leaves alone that never combine with a neighbour (NFKC_QC=Yes, combining
# class 0, never the second half of a composition): ASCII, common CJK punctuation, kana and
# the unified ideographs. A page is normalized between them only, in runs of other
# characters: NFKC of a whole Japanese page costs ~80 ns a character (profiled: the largest
# cost of extraction). test_adversarial checks the ranges against unicodedata.
_NFKC_STABLE = (
    "\x00-\x7f\u2010\u2012-\u2016\u2018-\u2023\u2027\u3001-\u3029\u3030-\u3035\u3037"
    "\u303b-\u303f\u3041-\u3096\u309d\u309e\u30a0-\u30fe\u4e00-\u9fff"
)
_NFKC_RUN = re.compile(f"[^{_NFKC_STABLE}]+")
# The same runs for re.split; written `[^…][^…]*` so that the pattern starts with a character
# set, which sre scans for in C (`[^…]+` makes it try a match at every position: 2× slower).
_NFKC_SPLIT = re.compile(f"([^{_NFKC_STABLE}][^{_NFKC_STABLE}]*)")
# Characters with a normalization boundary before them (the first character of their NFKD is
# a starter that never composes with the character before it): a run starting with one is
# normalized on its own. They start nearly every run on a page (U+3000, （, １, NBSP, ※ …).
# test_adversarial checks the ranges against unicodedata.
_NFKC_BOUNDARY_BEFORE = (
    "\u00a0-\u02ff\u0370-\u03ff\u2000-\u20cf\u2100-\u27bf\u2e80-\u2fdf\u3000"
    "\u3200-\u33ff\uf900-\ufaff\uff01-\uff9d\uffe0-\uffee\ufffd"
)
_NEEDS_BEFORE = re.compile(f"[^{_NFKC_BOUNDARY_BEFORE}]")
# The characters NFKC changes that make 2 runs in 3 on a page (U+3000, （, ）), each with
# its NFKD, a character NFKC keeps. NFKC is the composition of the NFKD, which replacing a
# character by its NFKD leaves as it is; str.replace is a C loop, and each run the split
# finds costs ~0.2 µs: 6 µs a page less (profiled). test_adversarial checks the NFKDs.
_NFKC_BEFORE_SPLIT = (("\u3000", " "), ("（", "("), ("）", ")"))
_FIRST_CHAR = itemgetter(0)
# A page repeats a few short runs (U+3000, （, ）, １ …) and pages repeat each other's: one
# normalization per distinct run. nfkc is a pure function, so the cache is exact.
_nfkc_run = lru_cache(maxsize=4096)(nfkc)
# Not policy text wherever they sit: code, forms, attachments (PDF links + licence notes).
_DROP_TAGS = frozenset(
    ("script", "style", "noscript", "template", "iframe", "object", "select", "textarea", "button")
)
_DROP_CLASS = ".mol_attachfileblock"
_DROP_SELECTORS = ",".join((*sorted(_DROP_TAGS), _DROP_CLASS))
# Outside the body on the template; dropped in the no-#mol_contents fallback too.
_CHROME_SELECTORS = "head,.mol_con,#footer,#header,#breadcrumbs,.breadcrumbs,#pankuzu,#rightbox"


def _tag_ids(tags: frozenset[str]) -> dict[str, int]:
    """Lexbor's ids of these tags. An element's tag_id is one C call where its tag builds a
    new string: 5.5 µs a page less (profiled; the body's ~90 elements and the ancestors of
    the looked-up ones). HTML's own tags have the same id in every document, and
    test_adversarial checks that these are such tags."""
    parser = LexborHTMLParser("")
    return {tag: parser.create_node(tag).tag_id for tag in tags}


_TAG_ID = _tag_ids(_BREAK_TAGS | _DROP_TAGS | {"li"})
_LI_ID = _TAG_ID["li"]
_DROP_TAG_IDS = frozenset(_TAG_ID[tag] for tag in _DROP_TAGS)
_BREAK_TAG_IDS = frozenset(_TAG_ID[tag] for tag in _BREAK_TAGS)
_TAG_ID_OF = attrgetter("tag_id")

_LOOKS_HTML = re.compile(r"<(?:!doctype|html|head|body|div|p|h1|table|br|span)\b", re.I)


# Lines one page may have (a full real page has a few hundred): past it the page is
# refused (parse.page), before the walk; a text capture is not read past it.
MAX_LINES = 50_000


def looks_like_html(text: str) -> bool:
    return _LOOKS_HTML.search(text[:20_000]) is not None


def _make_line(raw: str, bullet: bool) -> Line | None:
    text = clean_line(raw)
    match = _BULLET.match(text)
    if match:
        text = text[match.end() :]
        bullet = True
    return Line(text, bullet) if text else None


def text_lines(text: str, limit: int | None = None) -> list[Line]:
    """A text capture: one line per line; `  • `, `- `, `・`, indented `1. ` are bullets.
    With `limit`, at most that many lines are made (the page is refused past MAX_LINES:
    the rest need not be read)."""
    lines = []
    for raw in text.splitlines():
        numbered = _CAPTURE_NUMBERED.match(raw)
        line = _make_line(raw[numbered.end() :], True) if numbered else _make_line(raw, False)
        if line is not None:
            lines.append(line)
            if limit is not None and len(lines) >= limit:
                break
    return lines


def nfkc_text(text: str) -> str:
    """text.nfkc of a long text, calling unicodedata only on the runs that need it.

    A boundary before a stable character is a normalization boundary, so the text between
    two runs stays as it is, and the result equals nfkc of the whole text. A run is
    normalized on its own when its first character has a boundary before it too (nearly
    always), else with the one character before it (か + U+3099 compose to が). The
    commonest runs are not left to the split: see _NFKC_BEFORE_SPLIT.
    """
    for char, nfkd in _NFKC_BEFORE_SPLIT:
        text = text.replace(char, nfkd)
    parts = _NFKC_SPLIT.split(text)  # stable, run, stable, …, run, stable
    if len(parts) == 1:
        return text
    runs = parts[1::2]
    if _NEEDS_BEFORE.search("".join(map(_FIRST_CHAR, runs))):
        return _nfkc_text_with_before(text)
    parts[1::2] = map(_nfkc_run, runs)
    return "".join(parts)


def _nfkc_text_with_before(text: str) -> str:
    """nfkc_text, each run normalized with the character before it."""
    pieces = []
    last = 0
    for match in _NFKC_RUN.finditer(text):
        start, end = match.span()
        if start > last:
            start -= 1
        pieces.append(text[last:start])
        pieces.append(_nfkc_run(text[start:end]))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _node_lines(node: LexborNode) -> list[Line]:
    """Lines of a subtree: block starts/ends and <br> break lines, <li> marks a bullet.

    Elements with a tag of _DROP_TAGS are removed, every other element that does not break
    a line (and every comment) is unwrapped, and adjacent text nodes are merged: then two
    text nodes in a row always have a line break between them, and the text is taken in one
    C-level call with a separator between text nodes. That is one call per inline element
    (a page has a few <strong>/<a>) instead of two sentinel text nodes per block (~130
    inserts a page, profiled), and Lexbor reads fewer text nodes.
    """
    dropped, unwrap, items = [], [], []
    elements = node.traverse()
    next(elements)  # the node itself: its own start and end are outside its text
    for element in elements:
        tag = element.tag_id
        if tag in _BREAK_TAG_IDS:  # 3 elements in 4: tested first (no li or tag to drop)
            continue
        if tag == _LI_ID:
            items.append(element)
        elif tag in _DROP_TAG_IDS:
            dropped.append(element)
        else:
            unwrap.append(element)
    # Decomposing detaches every node of the subtree: unwrapping one of them then does
    # nothing, and a bullet mark inserted into one is outside the text.
    for element in dropped:
        element.decompose()
    for element in unwrap:
        element.unwrap(delete_empty=True)
    # The bullet mark goes before the item's first text, merged into it below (when the
    # item starts with a block or <br>, the mark is a line of its own: white space, dropped).
    for item in items:
        first = item.first_child
        if first is None:
            item.insert_child(_BULLET_MARK)
        else:
            first.insert_before(_BULLET_MARK)
    node.merge_text_nodes()
    # Text nodes of ASCII white space only would be lines of white space: skipped. The text
    # is normalized once for the whole subtree (the separator and the bullet mark are
    # stable characters), then each line only has its white space folded: clean_line
    # without its NFKC.
    text = nfkc_text(node.text(separator=_LINE_SEP, skip_empty=True) or "")
    return _chunk_lines(text)


# Line(text, bullet) from a (text, bullet) pair, all in C: the NamedTuple's own __new__ is
# Python code and takes half as long again (profiled; ~45 lines a page).
_new_line: Callable[[tuple[str, bool]], Line] = partial(tuple.__new__, Line)


def _chunk_lines(text: str) -> list[Line]:
    """A line per chunk of the text between separators, its white space folded; blank chunks
    are skipped (the bullet mark is white space too, for split: a lone mark is no line), and
    so is a lone bullet (None). One comprehension, rather than a loop with appends: 3.5 µs a
    page less (profiled)."""
    lines = [
        # The regex only where it can match (~4 lines a page).
        _bullet_line(folded, chunk[0] == _BULLET_MARK)
        if folded[0] in _BULLET_START
        else _new_line((folded, chunk[0] == _BULLET_MARK))
        for chunk in text.split(_LINE_SEP)
        if (folded := " ".join(chunk.split()))
    ]
    return list(filter(None, lines))


def _bullet_line(folded: str, bullet: bool) -> Line | None:
    """The line of a folded chunk that may start with a bullet; None if it is only one."""
    match = _BULLET.match(folded)
    if match:
        folded = folded[match.end() :]
        if not folded:
            return None
        bullet = True
    return _new_line((folded, bullet))


# A title, date or page number line is far shorter; a longer one is an element left open
# (a missing </h1>) that holds the rest of the page.
_HEAD_LINE_MAX = 200


def _clean_head_text(node: LexborNode) -> str | None:
    text = clean_line(node.text(deep=True, separator=" "))
    if len(text) > _HEAD_LINE_MAX:
        text = clean_line(_first_line(node))
    return text or None


def _first_line(node: LexborNode) -> str:
    """The element's text up to its first block or <br> after some text."""
    parts: list[str] = []
    elements = node.traverse(include_text=True)
    next(elements)  # the node itself
    for element in elements:
        if element.tag == "-text":
            parts.append(element.text_content or "")
        elif element.tag_id in _BREAK_TAG_IDS and "".join(parts).strip():
            break
    return "".join(parts)


def _first_text(tree: LexborHTMLParser, selector: str) -> str | None:
    node = tree.css_first(selector)
    return None if node is None else _clean_head_text(node)


class _NearDropped(Exception):
    """A looked-up element is in, or holds, an element with a tag of _DROP_TAGS."""


def _in_dropped(node: LexborNode | None) -> bool:
    """Whether the node or one of its ancestors has a tag of _DROP_TAGS."""
    while node is not None:
        if node.tag_id in _DROP_TAG_IDS:
            return True
        node = node.parent
    return False


def _kept_text(tree: LexborHTMLParser, selector: str) -> str | None:
    """_first_text while the elements with a tag of _DROP_TAGS are still in the tree: the
    same element and text, unless that element is in or holds one of them (_NearDropped).
    The selectors here depend on an element and its ancestors only, so removing elements
    elsewhere changes neither which element comes first nor its text."""
    node = tree.css_first(selector)
    if node is None:
        return None
    if _in_dropped(node) or not _DROP_TAG_IDS.isdisjoint(map(_TAG_ID_OF, node.traverse())):
        raise _NearDropped
    return _clean_head_text(node)


_FirstText = Callable[[LexborHTMLParser, str], str | None]


def _title(tree: LexborHTMLParser, first_text: _FirstText) -> str | None:
    return (
        first_text(tree, "#sub_h1_box h1")
        or first_text(tree, "h1")
        or _title_from_head(first_text(tree, "title"))
    )


def _head_lines(tree: LexborHTMLParser, first_text: _FirstText) -> list[Line]:
    """The title, date and page number lines."""
    head = [
        _title(tree, first_text),
        first_text(tree, ".page_day01 p") or first_text(tree, ".page_day01"),
        first_text(tree, ".page_num01 .p_coler01") or first_text(tree, ".page_num01"),
    ]
    return [Line(value) for value in head if value]


# <title>大阪市北区：平成31年度北区運営方針 （…>…）</title>: the page title sits between.
_HEAD_TITLE = re.compile(r"^大阪市[^:]{0,12}:\s*(?P<title>.+?)\s*(?:\([^()]*\))?$")


def _title_from_head(text: str | None) -> str | None:
    """The page title from <title>, for pages with no h1."""
    if not text:
        return None
    match = _HEAD_TITLE.match(text)
    return match.group("title") if match else text


# A <title> never closed makes the rest of the page its text (it is raw text): the page
# then has no body, and its title line runs on. Closed before the first tag after it.
_TITLE_START = re.compile(r"<title\b[^>]*>", re.I)
_TITLE_END = re.compile(r"</title", re.I)


def _close_title(text: str) -> str:
    start = _TITLE_START.search(text, 0, 20_000)
    if start is None or _TITLE_END.search(text, start.end()) is not None:
        return text
    end = text.find("<", start.end())
    if end < 0:
        return text
    return f"{text[:end]}</title>{text[end:]}"


def html_lines(text: str, utf8: bytes | None = None) -> list[Line]:
    """An HTML page: title, date and page number lines first, then the body's lines.

    `utf8`: the same page as UTF-8 bytes, if at hand (Lexbor would encode the text again).
    Raises PageError for a page nested too deep to parse in reasonable time.
    """
    check_nesting(text)
    closed = _close_title(text)
    if closed is not text:
        text, utf8 = closed, None
    tree = LexborHTMLParser(utf8 if utf8 is not None else text)
    # The elements to drop: by class over the whole page here, by tag only in the body (in
    # the walk over its elements), and elsewhere only if they touch a looked-up element.
    # Matching all of _DROP_SELECTORS at every element of the page cost 17 µs (profiled).
    for node in tree.css(_DROP_CLASS):
        node.decompose()
    body = tree.css_first("#mol_contents")
    if body is not None and not _in_dropped(body):
        try:
            head = _head_lines(tree, _kept_text)
        except _NearDropped:
            pass
        else:
            return head + _node_lines(body)
    # No body, or an element to drop around the body or a head line: drop them all first.
    for node in tree.css(_DROP_SELECTORS):
        node.decompose()
    body = tree.css_first("#mol_contents")
    if body is not None:
        return _head_lines(tree, _first_text) + _node_lines(body)
    # No #mol_contents: every line of the page from the h1 on; the rules stop at the
    # contact box and drop the chrome they recognise.
    title = _title(tree, _first_text)
    for node in tree.css(_CHROME_SELECTORS):
        node.decompose()
    root = tree.body
    if root is None:
        return []
    return from_title(_node_lines(root), title)


def from_title(lines: list[Line], title: str | None) -> list[Line]:
    """A page's lines from its title on (the title first, if no line is the title)."""
    if title is None:
        return lines
    for index, line in enumerate(lines):
        if line.text == title:
            return lines[index:]
    return [Line(title), *lines]


def extract(
    data: bytes, http_charset: str | None = None, *, is_text: bool | None = None
) -> Extracted:
    """Bytes → lines. `is_text` forces a text capture (.txt); None decides from the content."""
    text, warnings, same = decode_detailed(data, http_charset)
    if is_text is None:
        is_text = not looks_like_html(text)
    if is_text:
        return Extracted(text_lines(text, MAX_LINES + 1), "text", warnings)
    return Extracted(html_lines(text, data if same else None), "html", warnings)
