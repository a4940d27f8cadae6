"""Discovery: find ward 運営方針 pages the registry lacks, from the wards' listing pages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from osaka_unei.calendar import fiscal_year_from_title
from osaka_unei.decoding import decode
from osaka_unei.errors import PageError
from osaka_unei.fetch.client import PoliteClient, Unreachable, parse_charset
from osaka_unei.fetch.registry import Page
from osaka_unei.fetch.run import FetchOptions, previous_versions
from osaka_unei.fetch.urls import canonical_url, rebase_url, request_address
from osaka_unei.text import clean_line
from osaka_unei.wards import PAGE_PATH, WARD_SLUGS, page_address, ward_named_in_title

_CATEGORY_PATH = re.compile(r"^/([a-z0-9_-]+)/category/[\d-]+\.html$")

# --- discovery --------------------------------------------------------------------------

_LISTING_WORDS = ("策定経過", "過去", "一覧", "バックナンバー")


@dataclass(frozen=True)
class Link:
    url: str
    text: str


def decode_html(data: bytes, charset: str | None = None) -> str:
    """The parser's own decoding (HTTP charset, BOM, declaration, UTF-8, detection); an
    empty or undecodable page reads as no text, so discovery just finds no links in it."""
    try:
        return decode(data, charset)[0]
    except PageError:
        return ""


def extract_links(html: str, page_url: str) -> list[Link]:
    """Every <a href> as an absolute address (against <base href> when present) + its text."""
    tree = LexborHTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = urljoin(page_url, base_node.attributes.get("href") or "") if base_node else page_url
    links = []
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        links.append(Link(urljoin(base, href), clean_line(anchor.text(separator=" "))))
    return links


def page_title(html: str) -> str | None:
    """The page's h1 (#sub_h1_box h1), else its <title>."""
    tree = LexborHTMLParser(html)
    for selector in ("#sub_h1_box h1", "title"):
        node = tree.css_first(selector)
        if node is not None and (text := clean_line(node.text(separator=" "))):
            return text
    return None


def title_fiscal_year(title: str) -> int | None:
    """The fiscal year a title names (the parser's rule), or None."""
    try:
        return fiscal_year_from_title(clean_line(title))[0]
    except PageError:
        return None


def classify_text(text: str) -> Literal["policy", "listing", "other"] | None:
    """What a link text or a title says: a ward's 運営方針, a list of them (過去の…,
    策定経過), some other 運営方針 (a bureau's, or no ward named), or nothing relevant."""
    text = clean_line(text)
    if "運営方針" not in text:
        return None
    if any(word in text for word in _LISTING_WORDS):
        return "listing"
    return "policy" if ward_named_in_title(text) else "other"


def link_kind(url: str) -> Literal["page", "category"] | None:
    path = urlsplit(url).path
    if PAGE_PATH.match(path):
        return "page"
    if _CATEGORY_PATH.match(path):
        return "category"
    return None


def page_from_title(url: str, title: str) -> Page:
    """A registry row for a ward 運営方針 page found at `url` under `title`."""
    ward = ward_named_in_title(clean_line(title))
    address = page_address(url)
    return Page(
        url=url,
        ward=ward,
        ward_slug=WARD_SLUGS.get(ward or "") or (address[0] if address else None),
        fiscal_year=title_fiscal_year(title),
        page_id=address[1] if address else None,
    )


@dataclass
class Discovery:
    added: list[Page] = field(default_factory=list)
    read: int = 0  # pages looked at (stored or fetched)
    fetched: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"discover: {len(self.added)} added ({self.read} pages read, {self.fetched} fetched)"
        return "; ".join([text, *self.notes])


class _Reader:
    """Page HTML by city address: the stored latest version, else a polite fetch (bounded)."""

    def __init__(self, options: FetchOptions, max_fetches: int, result: Discovery) -> None:
        self._options = options
        self._stored = previous_versions(options.raw_dir)
        self._budget = max_fetches
        self._result = result
        self._client: PoliteClient | None = None
        self._offline = False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def read(self, url: str) -> str | None:
        address = request_address(url, self._options.base_url)
        if address is None:  # a registry row off the city's site: never requested
            return None
        record = self._stored.get(url)
        if record is not None and record.path:
            self._result.read += 1
            return decode_html((self._options.raw_dir / record.path).read_bytes(), record.charset)
        if self._offline:
            return None
        if self._budget <= 0:
            if "fetch limit reached" not in self._result.notes:
                self._result.notes.append("fetch limit reached")
            return None
        if self._client is None:
            self._client = self._options.client()
            try:
                self._client.load_robots()
            except Unreachable as exc:
                self._offline = True
                self._result.notes.append(f"unreachable ({exc}), used stored pages only")
                return None
        self._budget -= 1
        answer = self._client.get(address)
        if answer.error or answer.incomplete or answer.body is None or answer.status != 200:
            return None  # a page cut short is no page to read links from
        self._result.read += 1
        self._result.fetched += 1
        return decode_html(answer.body, parse_charset(answer.headers.get("content-type")))


def discover(
    registry: Sequence[Page],
    options: FetchOptions,
    *,
    listings: Sequence[str] = (),
    max_fetches: int = 200,
) -> Discovery:
    """Ward 運営方針 pages linked from known pages (and listing pages one level deep) that
    the registry lacks. Nothing is written: the caller saves the registry."""
    result = Discovery()
    known = {page.url for page in registry}
    visited: set[str] = set()
    reader = _Reader(options, max_fetches, result)

    def add(page: Page) -> None:
        if page.url not in known:
            known.add(page.url)
            result.added.append(page)

    def visit(url: str, depth: int) -> None:
        if url in visited:
            return
        visited.add(url)
        html = reader.read(url)
        if html is None:
            return
        for link in extract_links(html, rebase_url(url, options.base_url)):
            consider(link, depth)

    def consider(link: Link, depth: int) -> None:
        url = canonical_url(link.url, options.base_url)
        kind = link_kind(url) if url else None
        if url is None or kind is None or url in known:
            return
        said = classify_text(link.text)
        if kind == "category":
            if said is not None and depth == 0:  # a listing of 運営方針: one level deep
                visit(url, depth + 1)
            return
        if said == "policy":
            add(page_from_title(url, link.text))
        elif said == "listing":
            if depth == 0:
                visit(url, depth + 1)
        elif said == "other" or (depth > 0 and "年度" in link.text):
            check_target(url, depth)  # on a listing, a bare "令和3年度" may be one

    def check_target(url: str, depth: int) -> None:
        # The link text does not say enough: the target's own title decides.
        if url in visited:
            return
        visited.add(url)
        html = reader.read(url)
        title = page_title(html) if html else None
        said = classify_text(title) if title else None
        if said == "policy" and title:
            add(page_from_title(url, title))
        elif said == "listing" and depth == 0 and html:
            for link in extract_links(html, rebase_url(url, options.base_url)):
                consider(link, depth + 1)

    try:
        for page in registry:
            visit(page.url, 0)
        for url in listings:
            if canonical := canonical_url(url, options.base_url):
                visit(canonical, 0)
    finally:
        reader.close()
    return result
