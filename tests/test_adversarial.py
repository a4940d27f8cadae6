"""No page can stop a build: mutated, random and very large inputs, and the CLI's errors.

Property tests start from the real fixtures and break them the ways pages break: lines
deleted, duplicated or shuffled, numbers repeated, full-width/half-width swapped, stray
bytes, huge lines, cut-offs. parse_page may refuse a page only with PageError (empty,
undecodable, not a ward 運営方針 page), and every numbered 具体的取組 the page carries must
be in the tree or named in a warning. Set OSAKA_UNEI_EXPLORE=1 for random examples (10x as
many); by default the examples are fixed so that a test run is reproducible.

Large inputs run in a child process with an address-space cap and a timeout, so that a
blow-up fails the test instead of the machine.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from osaka_unei.decoding import _utf8_has_controls, decode_detailed
from osaka_unei.errors import PageError
from osaka_unei.models import WardPolicy
from osaka_unei.parse import budgets, parse_page
from osaka_unei.parse import variants as v
from osaka_unei.parse.budgets import extract_budgets
from osaka_unei.parse.extract import (
    _BLOCK_TAGS,
    _BREAK_TAGS,
    _BULLET,
    _BULLET_START,
    _CHROME_SELECTORS,
    _DROP_TAGS,
    _NFKC_BEFORE_SPLIT,
    _NFKC_BOUNDARY_BEFORE,
    _NFKC_STABLE,
    _TAG_ID,
    Line,
    _first_text,
    _title_from_head,
    extract,
    from_title,
    html_lines,
    nfkc_text,
)
from osaka_unei.parse.forms import BODY_START, FORMS, Reading
from osaka_unei.parse.headings import match_heading
from osaka_unei.text import CONTROL_CHARS, clean_line, nfkc

from .conftest import FIXTURES

EXPLORE = bool(os.environ.get("OSAKA_UNEI_EXPLORE"))
PROPERTY = settings(
    max_examples=2000 if EXPLORE else 300,
    deadline=None,
    derandomize=not EXPLORE,
    database=None if not EXPLORE else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAGE_FILES = sorted(
    path
    for folder in ("seeds", "pages")
    for path in (FIXTURES / folder).glob("*")
    if path.suffix in (".txt", ".html")
)
CLI = Path(sys.executable).with_name("osaka-unei")
ROOT = Path(__file__).resolve().parent.parent


def _codec(path: Path) -> str:
    return "cp932" if path.name.startswith("shift_jis") else "utf-8"


PAGES = {path.name: path.read_bytes().decode(_codec(path)) for path in PAGE_FILES}
NAMES = sorted(PAGES)

# --- mutations -------------------------------------------------------------------------

Lines = list[str]
_WIDE = str.maketrans(
    {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}  # ASCII → 全角
)
_NARROW = str.maketrans({chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)} | {"\u3000": " "})
_NUMBER = re.compile(r"[0-9０-９]{1,2}")
_HUGE_UNITS = (
    "あ",
    " ",
    "1-1-1 ",
    "【",
    "(",
    "】",
    "(予算額 1,000千円)",
    "9,999,999",
    "<div>",
    "</p>",
    "【具体的取組1-1-1 x】",
    "・",
    "&#12354;",
)


def _at(lines: Lines, where: int) -> int:
    return where % (len(lines) + 1)


class Mutation:
    """One way a page breaks, with its parameters: a short repr for failure reports."""

    def __init__(self, kind: str, a: int, b: int, seed: int) -> None:
        self.kind, self.a, self.b, self.seed = kind, a, b, seed

    def __repr__(self) -> str:
        return f"{self.kind}({self.a}, {self.b}, {self.seed})"

    def __call__(self, lines: Lines) -> Lines:
        a, b, seed = self.a, self.b, self.seed
        if not lines:
            return lines
        start = _at(lines, a)
        if self.kind == "delete":
            return lines[:start] + lines[start + 1 + b % 12 :]
        if self.kind == "duplicate":
            block = lines[start : start + 1 + b % 8]
            at = _at(lines, b)
            return lines[:at] + block + lines[at:]
        if self.kind == "shuffle":  # sections cut at random points, in another order
            cuts = sorted(random.Random(seed).sample(range(len(lines) + 1), min(6, len(lines))))
            parts = [lines[i:j] for i, j in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
            random.Random(seed + 1).shuffle(parts)
            return [line for part in parts for line in part]
        if self.kind == "numbers":  # every number of a stretch becomes the same small number
            same = str(1 + b % 3)
            end = start + 1 + b % 40
            return [
                _NUMBER.sub(same, line) if start <= i < end else line
                for i, line in enumerate(lines)
            ]
        if self.kind == "width":
            table = _WIDE if b % 2 else _NARROW
            end = start + 1 + b % 60
            return [
                line.translate(table) if start <= i < end else line for i, line in enumerate(lines)
            ]
        if self.kind == "huge":
            unit = _HUGE_UNITS[b % len(_HUGE_UNITS)]
            return [*lines[:start], unit * (1 + seed % 40_000), *lines[start:]]
        if self.kind == "truncate":
            return lines[: max(1, start)]
        i, j = start % len(lines), b % len(lines)  # swap two lines
        lines = list(lines)
        lines[i], lines[j] = lines[j], lines[i]
        return lines


KINDS = ["delete", "duplicate", "shuffle", "numbers", "width", "huge", "truncate", "swap"]
_ints = st.integers(0, 10**6)
mutations = st.builds(Mutation, st.sampled_from(KINDS), _ints, _ints, st.integers(0, 2**32))
stray_bytes = st.lists(
    st.tuples(st.integers(0, 10**7), st.binary(min_size=1, max_size=6)), max_size=3
)


@dataclass(frozen=True)
class MutatedPage:
    name: str
    mutations: list[Mutation]
    stray: list[tuple[int, bytes]]

    def data(self) -> bytes:
        lines = PAGES[self.name].split("\n")
        for mutate in self.mutations:
            lines = mutate(lines)
        data = bytearray("\n".join(lines).encode(_codec(Path(self.name)), errors="replace"))
        for at, stray in self.stray:
            at %= len(data) + 1
            data[at:at] = stray
        return bytes(data)


mutated_pages = st.builds(
    MutatedPage, st.sampled_from(NAMES), st.lists(mutations, max_size=4), stray_bytes
)


# --- properties --------------------------------------------------------------------------


def _safe_lines(data: bytes) -> list[Line]:
    try:
        return extract(data).lines
    except PageError:
        return []


def _initiative_codes(policy: WardPolicy) -> set[str]:
    return {
        initiative.code
        for issue in policy.issues
        for strategy in issue.strategies
        for initiative in strategy.initiatives
        if initiative.code is not None
    }


def check_page(data: bytes) -> None:
    """parse_page returns a WardPolicy or raises PageError; no numbered 具体的取組 of the
    page is lost without a warning."""
    try:
        policy = parse_page(data)
    except PageError:
        return
    assert isinstance(policy, WardPolicy)
    lines = extract(data).lines
    carried = set()
    for line in lines:
        heading = match_heading(extract_budgets(line.text, policy.fiscal_year).text)
        if heading is not None and heading.kind == "initiative" and heading.code is not None:
            carried.add(heading.code)
    lost = {
        code
        for code in carried - _initiative_codes(policy)
        if not any(code in warning for warning in policy.warnings)
    }
    assert not lost, f"具体的取組 {sorted(lost)} neither in the tree nor in a warning"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda path: path.name)
def test_fixture_pages_hold_the_properties(path: Path) -> None:
    check_page(path.read_bytes())


@PROPERTY
@given(mutated_pages)
# Regression: an initiative moved before the title was dropped without a warning.
@example(MutatedPage("003_89797b12dbd6aaef.txt", [Mutation("swap", 0, 31, 0)], []))
def test_mutated_pages(page: MutatedPage) -> None:
    check_page(page.data())


@PROPERTY
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x00\x00\x00")
@example(b"\xef\xbb\xbf")
@example("<html><body><h1>令和4年度北区運営方針</h1></body></html>".encode())
def test_random_bytes(data: bytes) -> None:
    check_page(data)


_PAGE_WORDS = st.sampled_from(
    [
        "令和4年度北区運営方針",
        "平成31年度 西区運営方針(素案)",
        "重点的に取り組む主な経営課題",
        "【経営課題1】 安全",
        "経営課題2 福祉",
        "【戦略1-1 地域】",
        "【具体的取組1-1-1 防災】(4年度予算額 1,000千円)",
        "【1-2-3 x】《5,237千円》",
        "主な戦略(課題解決の方策)",
        "・地域の支援",
        "「市政改革プラン3.0」に基づく取組等",
        "【取組項目1】 x",
        "このページの作成者・問合せ先",
        "(予算額 - )",
        "関連するSDGs 3 11",
    ]
)


@PROPERTY
@given(st.lists(st.one_of(_PAGE_WORDS, st.text(max_size=40)), max_size=40), st.booleans())
def test_random_pages(lines: list[str], as_html: bool) -> None:
    """Pages assembled from page-like lines and random text, as a capture or as HTML."""
    if as_html:
        body = "".join(f"<p>{line}</p>" for line in lines)
        text = f'<html><body><div id="mol_contents">{body}</div></body></html>'
    else:
        text = "\n".join(lines)
    check_page(text.encode("utf-8", errors="replace"))


# --- the fast NFKC and decode paths equal the plain ones ---------------------------------


def _composition_seconds() -> set[int]:
    """Every code point that is the second half of a canonical decomposition pair."""
    seconds = set()
    for code in range(0x110000):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            seconds.update(int(part, 16) for part in decomposition.split()[1:])
    return seconds


def test_nfkc_stable_ranges() -> None:
    """Each character extract treats as a normalization boundary is one: NFKC leaves it,
    it has combining class 0, and it never composes with the character before it."""
    seconds = _composition_seconds()
    stable = re.compile(f"[{_NFKC_STABLE}]")
    for code in range(0x10000):
        char = chr(code)
        if stable.match(char):
            assert unicodedata.normalize("NFKC", char) == char, hex(code)
            assert unicodedata.combining(char) == 0, hex(code)
            assert code not in seconds, hex(code)


def test_nfkc_boundary_ranges() -> None:
    """A run starting with a character of _NFKC_BOUNDARY_BEFORE is normalized on its own:
    the first character of its NFKD is a starter that never composes with the character
    before it (a canonical pair, or Hangul: a vowel after a leading consonant, a trailing
    consonant after a syllable)."""
    seconds = _composition_seconds() | set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    stable = re.compile(f"[{_NFKC_STABLE}]")
    boundary = re.compile(f"[{_NFKC_BOUNDARY_BEFORE}]")
    for code in range(0x10000):
        char = chr(code)
        if boundary.match(char) and not stable.match(char):
            first = unicodedata.normalize("NFKD", char)[0]
            assert unicodedata.combining(first) == 0, hex(code)
            assert ord(first) not in seconds, hex(code)


# Compositions with the character before a run (か + U+3099, ᄀ + ㅏ, ｶ + ﾞ, ଇ + ା), inside a
# run (Ａ + U+0301), and runs that start with a boundary character (（, U+3000, Å, ①, ㈱ …).
_TRICKY = (
    "か\u3099は\u309aｶﾞﾊﾟ①②\u3000（１）ＡＢ\u00a0e\u0301\u1100\u1161\u11a8㈱㌔\uf900\u2f00・ー。"
    "\u314f\u3131\uff76\uff9e\u0b47\u0b3e\u0483\u20d0\u2025\u216b\u212b\uff3f\uac00€※"
)


@settings(max_examples=300, deadline=None, derandomize=not EXPLORE)
@given(st.text(alphabet=st.one_of(st.sampled_from(_TRICKY), st.characters()), max_size=80))
def test_nfkc_text_equals_nfkc(text: str) -> None:
    assert nfkc_text(text) == nfkc(text)


@settings(max_examples=300, deadline=None, derandomize=not EXPLORE)
@given(st.text(alphabet=st.sampled_from(_TRICKY + "aか一"), max_size=40))
def test_nfkc_text_equals_nfkc_on_tricky_text(text: str) -> None:
    """Only tricky characters: both ways of normalizing a run (on its own, or with the
    character before it) are taken often."""
    assert nfkc_text(text) == nfkc(text)


def test_nfkc_before_split_are_nfkds() -> None:
    """Each character nfkc_text replaces before its split is replaced by its NFKD, a single
    character that NFKC keeps: NFKC of the text stays the same."""
    for char, nfkd in _NFKC_BEFORE_SPLIT:
        assert unicodedata.normalize("NFKD", char) == nfkd, hex(ord(char))
        assert len(nfkd) == 1 and unicodedata.normalize("NFKC", nfkd) == nfkd


_SPACES = "".join(chr(code) for code in range(0x3100) if chr(code).isspace())


@settings(max_examples=300, deadline=None, derandomize=not EXPLORE)
@given(st.text(alphabet=st.one_of(st.sampled_from(_SPACES + "a１①"), st.characters()), max_size=40))
def test_clean_line_equals_regex_folding(text: str) -> None:
    """clean_line's split/join takes as white space what `\\s` and strip do."""
    assert clean_line(text) == re.sub(r"\s+", " ", nfkc(text)).strip()


def test_tag_ids_are_lexbors_own() -> None:
    """extract tells tags apart by Lexbor's tag ids: each is the id of the tag's name in any
    document (HTML's own tags; a tag Lexbor does not know gets an id per document), and the
    walk may test the tags that break a line first (no li or tag to drop among them)."""
    parser = LexborHTMLParser("<x-a></x-a><x-b></x-b>")
    for name in ("x-c", "x-d", *_TAG_ID):
        parser.create_node(name)
    for tag, tag_id in _TAG_ID.items():
        node = parser.create_node(tag)
        assert (node.tag_id, node.tag) == (tag_id, tag)
    assert not _BREAK_TAGS & (_DROP_TAGS | {"li"})


def test_bullet_start_holds_every_bullet() -> None:
    """_node_lines tries _BULLET only on lines that start with a character of _BULLET_START."""
    starts = {chr(code) for code in range(0x10000) if _BULLET.match(chr(code) + " ")}
    assert starts <= _BULLET_START


@settings(max_examples=300, deadline=None, derandomize=not EXPLORE)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", errors="replace")),
        st.lists(
            st.sampled_from([b"\xc2\x85", b"\xc2\xa0", b"\x01", b"\x7f", b"a", b"\xe3\x81\x82"])
        ).map(b"".join),
    )
)
def test_decode_shortcut_equals_regex(data: bytes) -> None:
    """The UTF-8 byte check for control characters decides as the regex would."""
    try:
        text, _, same = decode_detailed(data, "utf-8")
    except PageError:
        return
    assert not CONTROL_CHARS.search(text)
    if same:
        assert text.encode("utf-8") == data


def test_utf8_control_check_finds_every_control() -> None:
    """The byte check (one memchr per C0 byte, a scan for C2 80-9F) says yes exactly for the
    characters CONTROL_CHARS matches, alone and inside a page."""
    sequences = [bytes([byte]) for byte in range(0x80)]
    sequences += [bytes([0xC2, byte]) for byte in range(0x80, 0xC0)]
    for sequence in sequences:
        is_control = CONTROL_CHARS.search(sequence.decode("utf-8")) is not None
        assert _utf8_has_controls(sequence) is is_control
        assert _utf8_has_controls(b"<p>\xe3\x81\x82" + sequence + b"\xc2\xa0</p>") is is_control
    assert _utf8_has_controls(b"<p>\xc2\xa0 \xc2\x85</p>")
    assert not _utf8_has_controls("<p>\t\r\n、\u3000\u0100\u00c2</p>".encode())


def test_head_text_equals_clean_line() -> None:
    """A head line is clean_line of its text nodes joined by a space (full-width forms,
    ideographic space, circled numbers kept, a mark composed)."""
    raw = "令和６年度\u3000①（案）か\u3099\n ＰＤＣＡ"
    tree = LexborHTMLParser(f'<div id="sub_h1_box"><h1>{raw}<b>：１</b></h1></div>')
    assert _first_text(tree, "#sub_h1_box h1") == "令和6年度 ①(案)が PDCA :1"
    # The two text nodes are joined by a space.
    assert _first_text(tree, "#sub_h1_box h1") == clean_line(raw + " ：１")
    assert _first_text(tree, "h2") is None
    assert _first_text(LexborHTMLParser("<h1> \u3000</h1>"), "h1") is None


def test_separator_from_a_character_reference_only_breaks_the_line() -> None:
    """&#x1e; is the line separator once Lexbor has read it (raw control bytes are stripped,
    references are not): the paragraph breaks there, and nothing else changes."""
    html = '<div id="mol_contents"><p>前半&#x1e;後半</p><ul><li>&#x1f;項目</li></ul></div>'
    assert html_lines(html) == [Line("前半"), Line("後半"), Line("項目", bullet=True)]


# --- html_lines equals sentinels after dropping everything first --------------------------

_SENTINEL = "\x1e"
_MARK = "\x1f"
_ALL_DROPPED = (
    "script,style,noscript,template,iframe,object,select,textarea,button,.mol_attachfileblock"
)


def _sentinel_lines(node: LexborNode) -> list[Line]:
    """The plain _node_lines: a sentinel text node before and after each block and <li>
    (with the bullet mark) and before each <br>, then the text split at the sentinels."""
    for element in list(node.traverse()):
        if element.tag in _BLOCK_TAGS:
            element.insert_before(_SENTINEL)
            element.insert_after(_SENTINEL)
        elif element.tag == "br":
            element.insert_before(_SENTINEL)
        elif element.tag == "li":
            element.insert_before(_SENTINEL + _MARK)
            element.insert_after(_SENTINEL)
    lines = []
    for chunk in nfkc(node.text(deep=True, separator="", strip=False) or "").split(_SENTINEL):
        bullet = chunk.startswith(_MARK)
        folded = " ".join(chunk.lstrip(_MARK).split())
        match = _BULLET.match(folded)
        if match:
            folded = folded[match.end() :]
            bullet = True
        if folded:
            lines.append(Line(folded, bullet))
    return lines


def _plain_html_lines(html: str) -> list[Line]:
    """The plain html_lines: every element to drop removed before any look-up."""
    tree = LexborHTMLParser(html)
    for node in tree.css(_ALL_DROPPED):
        node.decompose()
    title = (
        _first_text(tree, "#sub_h1_box h1")
        or _first_text(tree, "h1")
        or _title_from_head(_first_text(tree, "title"))
    )
    body = tree.css_first("#mol_contents")
    if body is not None:
        head = [
            title,
            _first_text(tree, ".page_day01 p") or _first_text(tree, ".page_day01"),
            _first_text(tree, ".page_num01 .p_coler01") or _first_text(tree, ".page_num01"),
        ]
        return [Line(value) for value in head if value] + _sentinel_lines(body)
    for node in tree.css(_CHROME_SELECTORS):
        node.decompose()
    if tree.body is None:
        return []
    return from_title(_sentinel_lines(tree.body), title)


# Text with white space, bullets, entities for the separator and the bullet mark, a mark to
# compose, a comment; tags: blocks, inline, foreign, unknown, upper case, tags to drop.
# fmt: off
_HTML_TEXT = st.sampled_from((
    "a", "テキスト", " ", "\n\t", "\u3000", "（１）", "・項目", "- x", "• y", "○", "-", "&nbsp;",
    "&#x1e;", "&#x1f;", "&amp;", "か\u3099", "\u3099x", "①", "<!-- c -->", "<![CDATA[z]]>",
))
_HTML_TAG = st.sampled_from((
    "p", "div", "span", "strong", "a", "li", "ul", "br", "h2", "table", "tr", "td", "img",
    "font", "x-foo", "LI", "Br", "svg", "math", "title", "h1", "option", "wbr", "hr",
    "script", "style", "noscript", "template", "iframe", "object", "select", "textarea",
    "button",
))
_HTML_ATTRS = st.sampled_from((
    "", "", "", ' id="mol_contents"', ' id="sub_h1_box"', ' class="mol_attachfileblock"',
    ' class="page_day01"', ' class="page_num01"', ' class="p_coler01"',
))
# fmt: on
_HTML = st.recursive(
    _HTML_TEXT,
    lambda inner: st.builds(
        lambda tag, attrs, children, close: (
            f"<{tag}{attrs}>{''.join(children)}" + (f"</{tag}>" if close else "")
        ),
        _HTML_TAG,
        _HTML_ATTRS,
        st.lists(inner, max_size=4),
        st.booleans(),
    ),
    max_leaves=40,
)
_HTML_PAGES = st.one_of(
    _HTML,
    st.builds(
        lambda before, h1, day, num, body, after: (
            f"<title>大阪市北区:{before}</title>{before}"
            f'<div id="sub_h1_box"><h1>{h1}</h1></div><div class="page_day01"><p>{day}</p></div>'
            f'<div class="page_num01"><span class="p_coler01">{num}</span></div>'
            f'<div id="mol_contents">{body}</div>{after}'
        ),
        *[_HTML] * 6,
    ),
)


@PROPERTY
@given(_HTML_PAGES)
@example('<div id="sub_h1_box"><h1>t<script>x</script></h1></div><div id="mol_contents">b</div>')
@example('<noscript><div id="mol_contents">a</div></noscript><div id="mol_contents">b</div>')
@example('<object><h1>a</h1><p class="page_day01">d</p></object><h1>b</h1><p id="mol_contents">c')
@example('<div id="mol_contents"><li><b>a</b>b<br>c<object>d</object>e</li><li><p>f</p></li>')
def test_html_lines_equal_plain_html_lines(html: str) -> None:
    """Unwrapping, a separator between text nodes and dropping by tag only near what is
    read give the lines of sentinels after dropping every element to drop."""
    assert html_lines(html) == _plain_html_lines(html)


# The form index: asking each table what FORMS.read(text) knows finds the form that trying
# every form of the table, in order, finds.
FIXTURE_LINES = sorted(
    {line.text for path in PAGE_FILES for line in _safe_lines(path.read_bytes())}
)


def _brute_force(forms: tuple[v.Form, ...], text: str) -> str | None:
    for form in forms:
        if (form.pattern.search if form.hints else form.pattern.match)(text):
            return form.name
    return None


@settings(max_examples=500, deadline=None, derandomize=not EXPLORE)
@given(
    st.one_of(
        st.sampled_from(FIXTURE_LINES),
        st.tuples(st.sampled_from(FIXTURE_LINES), st.text(max_size=6), st.integers(0, 80)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
        ),
        st.tuples(st.sampled_from(FIXTURE_LINES), st.sampled_from(FIXTURE_LINES)).map(
            lambda t: t[0][:12] + t[1][-12:]
        ),
        st.text(max_size=30),
    )
)
def test_form_index_finds_the_first_form_of_every_table(text: str) -> None:
    reading = FORMS.read(text)
    for table, span in FORMS.spans.items():
        forms = tuple(FORMS.forms[at] for at in range(*span))
        found = FORMS.match(table, text, reading)
        assert (found[1].name if found else None) == _brute_force(forms, text), (table, text)


def _spans(readings: list[Reading]) -> list[tuple[int, tuple[int, int] | None]]:
    return [(at, match.span() if match else None) for at, match in readings]


@settings(max_examples=300, deadline=None, derandomize=not EXPLORE)
@given(st.lists(st.one_of(st.sampled_from(FIXTURE_LINES), st.text(max_size=20)), max_size=30))
def test_reading_a_page_at_once_reads_each_line_as_read_does(texts: list[str]) -> None:
    assert _spans(FORMS.read_all(texts)) == _spans([FORMS.read(text) for text in texts])


def test_lines_of_no_policy_text_are_read_before_the_body_tables() -> None:
    """The walk takes a reading before BODY_START as an end, skip, note or section line."""
    page_tables = {"end", "skip", "note", "section"}
    for table, (start, stop) in FORMS.spans.items():
        assert (stop <= BODY_START) == (table in page_tables), table
        assert table in page_tables or start >= BODY_START, table


def test_every_form_is_anchored_or_has_hints_in_its_example() -> None:
    """A form without hints is matched at the start of the line: in the tables whose forms
    may stand anywhere (end, skip, note) each must say so with ^; a hinted form's example
    holds a hint, and the hint is plain text of its pattern."""
    for table in ("end", "skip", "note"):
        for at in range(*FORMS.spans[table]):
            form = FORMS.forms[at]
            if form.hints:
                assert any(hint in form.example for hint in form.hints), form.name
                assert all(
                    re.escape(hint) in form.pattern.pattern or hint in form.pattern.pattern
                    for hint in form.hints
                ), form.name
            else:
                assert form.pattern.pattern.startswith("^"), form.name


@settings(max_examples=2000, deadline=None, derandomize=not EXPLORE)
@given(
    st.text(alphabet="0123456789, 千円万百億.٢", max_size=10),
    st.sampled_from(["千円", " 千円", "円", "万円", ""]),
)
def test_amount_shortcut_reads_as_the_parts_do(digits: str, unit: str) -> None:
    text = digits + unit
    # Digits of another script (٢) are never read (issue 19): the amount is None.
    expected = budgets._amount_by_parts(text) if budgets.amount_problem(text) is None else None
    assert budgets.amount_thousand_yen(text) == expected


def _without_possessives(pattern: str) -> str:
    """The pattern with every possessive quantifier (`*+`, `++`, `?+`, `{m,n}+`) made greedy."""
    return re.sub(r"(?<=[*+?}])\+", "", pattern)


_BUDGET_PATTERNS = {
    "BUDGET_ITEM": v.BUDGET_ITEM,
    **{f"BUDGET_FORMS {form.name}": form.pattern for form in v.BUDGET_FORMS},
}
# What budget text is made of, and what sits around it on a line.
_BUDGET_PIECES = st.sampled_from(
    [
        *"0123456789,. 千百万億円額年度元(《)》【】〔〕:/、-ー",
        "令和",
        "平成",
        "区CM",
        "予算額",
        "算定見込額",
        "決算額",
        "当初",
        "予算見込額",
        "具体的取組",
        "\u3000",
    ]
)


def test_budget_patterns_have_possessives_to_drop() -> None:
    """The oracle below compares something: the patterns do use possessive quantifiers,
    and without them are still valid patterns."""
    for name, pattern in _BUDGET_PATTERNS.items():
        plain = _without_possessives(pattern.pattern)
        assert plain != pattern.pattern, name
        assert "\\+" not in pattern.pattern, name  # no literal '+' for the rewrite to touch
        re.compile(plain)


@settings(max_examples=3000, deadline=None, derandomize=not EXPLORE)
@given(st.lists(_BUDGET_PIECES, max_size=24).map("".join))
@example("(29年度予算額 22,268千円)")
@example("令和3年度決算額 6千9百万円 / 令和4年度予算額 5千3百万円")
@example("12345予算額 1,000.5千円)")
def test_possessive_budget_patterns_read_as_plain_ones(text: str) -> None:
    """The possessive quantifiers of variants.LABEL and AMOUNT only save backtracking:
    every budget pattern finds the same matches, with the same groups, without them."""
    for name, pattern in _BUDGET_PATTERNS.items():
        plain = re.compile(_without_possessives(pattern.pattern))
        found = [(m.span(), m.groupdict()) for m in pattern.finditer(text)]
        assert found == [(m.span(), m.groupdict()) for m in plain.finditer(text)], name


# --- very large inputs, in a child process -------------------------------------------------

_MEMORY_CAP = 1_500 * 1024 * 1024
_CHILD = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from osaka_unei.parse import PageError, parse_page
data = open(sys.argv[1], "rb").read()
start = time.perf_counter()
try:
    policy = parse_page(data)
except PageError as exc:
    print("refused", type(exc).__name__, round(time.perf_counter() - start, 2))
else:
    print("parsed", len(policy.issues), len(policy.warnings), round(time.perf_counter() - start, 2))
"""


def _page(body: str, title: str = "令和4年度北区運営方針") -> bytes:
    return (
        '<html><head><meta charset="utf-8"></head><body>'
        f'<div id="sub_h1_box"><h1>{title}</h1></div><div id="mol_contents">'
        "<h2>重点的に取り組む主な経営課題</h2>"
        f"{body}</div></body></html>"
    ).encode()


def _run_capped(tmp_path: Path, data: bytes, timeout: float = 60.0) -> str:
    page = tmp_path / "page.html"
    page.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(cap=_MEMORY_CAP), str(page)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(("parsed", "refused")), done.stdout
    return done.stdout


LARGE_PAGES: dict[str, Callable[[], bytes]] = {
    "nesting of 20,000 divs": lambda: _page(
        "<div>" * 20_000 + "【経営課題1】 x<p>【戦略1-1 y】</p>" + "</div>" * 20_000
    ),
    "nesting of 20,000 unclosed spans and lists": lambda: _page(
        "<span><ul><li>" * 7_000 + "【具体的取組1-1-1 z】"
    ),
    "20 MB page of paragraphs": lambda: _page(
        "".join(
            f"<p>【具体的取組1-1-{i % 99 + 1} 取組{i}】(予算額 {i:,}千円)</p><p>{'説明文。' * 80}</p>"
            for i in range(20_000)
        )
    ),
    "20 MB single line": lambda: _page("<p>" + "地域の課題(予算額 1,000千円)、" * 500_000 + "</p>"),
    "100,000 tiny elements": lambda: _page("<b>あ</b><br>" * 100_000),
    "100,000 headings": lambda: _page(
        "".join(
            f"<p>【経営課題{i % 99 + 1}】</p><p>【戦略{i % 9 + 1}-1】</p><p>【具体的取組1-1-{i % 99 + 1}】</p>"
            for i in range(34_000)
        )
    ),
}


@pytest.mark.parametrize("name", LARGE_PAGES)
def test_large_page_is_bounded(tmp_path: Path, name: str) -> None:
    data = LARGE_PAGES[name]()
    assert len(data) < 40_000_000
    outcome = _run_capped(tmp_path, data)
    if name.startswith("nesting"):  # deeper than nesting.MAX_DEPTH: refused before Lexbor
        assert outcome.startswith("refused PageError"), outcome


# --- the CLI: one line for a user error, a traceback only with --debug -------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.html"
    garbage.write_bytes(bytes(random.Random(7).randrange(256) for _ in range(20_000)))
    directory = tmp_path / "a-directory"
    directory.mkdir()
    return {
        "missing file": tmp_path / "no-such-page.html",
        "empty file": empty,
        "binary garbage": garbage,
        "a directory": directory,
        "unrelated page": FIXTURES / "pages" / "unrelated_page.html",
        "bureau page": FIXTURES / "pages" / "bureau_page.html",
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "empty file",
        "binary garbage",
        "a directory",
        "unrelated page",
        "bureau page",
    ],
)
def test_cli_user_error_is_one_line(tmp_path: Path, case: str) -> None:
    done = _cli("parse", str(_bad_inputs(tmp_path)[case]))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_cli_unknown_option_has_no_traceback() -> None:
    done = _cli("parse", "--format", "yaml", "x.html")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_cli_debug_may_show_traceback(tmp_path: Path) -> None:
    done = _cli("--debug", "parse", str(_bad_inputs(tmp_path)["empty file"]))
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "EmptyInputError" in done.stderr


def test_stray_byte_in_utf8_capture_is_a_warning() -> None:
    """Regression: one invalid byte in a capture without a charset refused the whole page
    (UTF-8, Shift_JIS and EUC-JP all failed strictly, so no encoding 'fitted')."""
    data = (FIXTURES / "seeds" / "000_9271bec5154d5aa3.txt").read_bytes()
    at = data.index("。".encode()) + 3
    policy = parse_page(data[:at] + b"\xff" + data[at:])
    assert len(policy.issues) == len(parse_page(data).issues)
    assert any("invalid byte" in warning for warning in policy.warnings)
