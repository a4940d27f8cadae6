"""What parse_page is measured against.

`lexbor_floor`: the least any extractor on selectolax must do (parse the page, take the body
text). `bs4_lines`: the extraction a user would otherwise write with BeautifulSoup and the
standard library parser: the same title/date/number and body lines, with no rules at all.
`required_steps`: the steps parse_page cannot skip on this stack, with none of its rules: a
lower bound for parse_page, to tell the cost of the stack from the cost of the rules.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bs4 import BeautifulSoup, Tag
from selectolax.lexbor import LexborHTMLParser

from osaka_unei.decoding import decode_detailed
from osaka_unei.models import WardPolicy
from osaka_unei.parse import variants
from osaka_unei.parse.extract import nfkc_text
from osaka_unei.parse.forms import FORMS
from osaka_unei.text import clean_line

_DROP = ["script", "style", "noscript", "template", "iframe", "object", "select", "textarea"]
_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "dt", "dd", "td", "th", "caption"]
_BULLETS = ("・", "•", "○", "●")


def lexbor_floor(data: bytes) -> str:
    tree = LexborHTMLParser(data)
    body = tree.css_first("#mol_contents") or tree.body
    return body.text() if body is not None else ""


_HEAD = ("#sub_h1_box h1", ".page_day01 p", ".page_num01 .p_coler01")
_LINE_SEP = "\x1e"
_BUDGET = variants.BUDGET_FORMS[0].pattern


def required_steps(data: bytes, fields: dict[str, Any] | None) -> object:
    """Decode the bytes and hash them, parse them with Lexbor, take the head lines and the
    body text as lines, normalize (NFKC) and fold them, read every line with the forms of
    variants (FORMS.read_all), find the bracketed budgets, and validate the page's tree into
    the models (`fields`: parse_page's result as a dict, made beforehand, untimed; None for
    a page parse_page refuses). No state, no tree, no rule: not a parser, a lower bound."""
    hashlib.sha256(data).hexdigest()
    text, _, same = decode_detailed(data, None)
    tree = LexborHTMLParser(data if same else text)
    head = [node.text() for selector in _HEAD if (node := tree.css_first(selector)) is not None]
    body = tree.css_first("#mol_contents") or tree.body
    raw = body.text(separator=_LINE_SEP, skip_empty=True) if body is not None else ""
    lines = [
        *head,
        *filter(None, (" ".join(chunk.split()) for chunk in nfkc_text(raw).split(_LINE_SEP))),
    ]
    readings = FORMS.read_all(lines)
    budgets = [_BUDGET.findall(line) for line in lines if "円" in line]
    policy = WardPolicy.model_validate(fields) if fields is not None else None
    return readings, budgets, policy


def _text(tag: Tag | None) -> str | None:
    if tag is None:
        return None
    return clean_line(tag.get_text(" ")) or None


def bs4_lines(data: bytes) -> list[tuple[str, bool]]:
    """(line, bullet) pairs: one per block, split at <br>, like the extractor's lines."""
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(_DROP):
        tag.decompose()
    for tag in soup.select(".mol_attachfileblock"):
        tag.decompose()
    head = [
        _text(soup.select_one("#sub_h1_box h1") or soup.find("h1")),
        _text(soup.select_one(".page_day01 p")),
        _text(soup.select_one(".page_num01 .p_coler01")),
    ]
    lines = [(text, False) for text in head if text]
    body = soup.find(id="mol_contents") or soup.body
    if body is None:
        return lines
    for br in body.find_all("br"):
        br.replace_with("\n")
    for block in body.find_all(_BLOCKS):
        if block.find(_BLOCKS) is not None:  # its inner blocks give the lines
            continue
        for raw in block.get_text().split("\n"):
            text = clean_line(raw)
            if not text:
                continue
            bullet = block.name == "li" or text.startswith(_BULLETS)
            lines.append((text.lstrip("".join(_BULLETS) + " "), bullet))
    return lines
