"""What parse_page is measured against.

`lexbor_floor`: the least any extractor on selectolax must do (parse the page, take the body
text). `bs4_lines`: the extraction a user would otherwise write with BeautifulSoup and the
standard library parser: the same title/date/number and body lines, with no rules at all.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from selectolax.lexbor import LexborHTMLParser

from osaka_unei.text import clean_line

_DROP = ["script", "style", "noscript", "template", "iframe", "object", "select", "textarea"]
_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "dt", "dd", "td", "th", "caption"]
_BULLETS = ("・", "•", "○", "●")


def lexbor_floor(data: bytes) -> str:
    tree = LexborHTMLParser(data)
    body = tree.css_first("#mol_contents") or tree.body
    return body.text() if body is not None else ""


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
