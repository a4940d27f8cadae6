"""A benchmark corpus in the site template, made from the fixture pages.

Every page is a fixture page with another ward, year and page id, a heading style (h2/h3
boxes or bold ``<p>`` lines), a bullet style (``<ul><li>`` or ``・`` paragraphs), ASCII or
full-width digits, and content that changes with the round: a round-and-page token in the
text, shuffled bullets, other budget amounts. No two pages of a run share their bytes, so
no cache keyed by content or by line can flatter a timing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from osaka_unei.calendar import FIRST_FISCAL_YEAR, last_fiscal_year
from osaka_unei.decoding import decode
from osaka_unei.models import WardPolicy
from osaka_unei.parse import parse_page
from osaka_unei.parse import variants as v
from osaka_unei.parse.headings import match_marker, match_section
from osaka_unei.text import clean_line
from osaka_unei.wards import WARD_SLUGS

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
# Ward policy pages only: the refused fixtures (bureau, unrelated) would time the error path.
SOURCE_NAMES = (
    "000_9271bec5154d5aa3.html",
    "001_e7afe2fe71ccfc94.html",
    "002_e3f0c9fdb4967de5.html",
    "003_89797b12dbd6aaef.html",
    "004_e6c957a5f6c36d5e.html",
    "h25_sogo.html",
    "h31_sogo_estimate.html",
    "no_mol_contents.html",
    "r5_minato.html",
    "r8_draft.html",
    "shift_jis_page.html",
)
FISCAL_YEARS = range(2013, 2027)  # 平成25年度 … 令和8年度
_KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_HALF = str.maketrans("０１２３４５６７８９", "0123456789")

_ERA_LABEL = re.compile(r"(平成|令和)\s*([0-9０-９]{1,2}|元)\s*年度")
_GREGORIAN = re.compile(r"([0-9０-９]{4})\s*年度")
# A short year before a budget word: 29年度予算額, 25予算額, 31算定見込額.
_SHORT_YEAR = re.compile(
    r"(?<![0-9０-９成和])([0-9０-９]{1,2}|元)(?=\s*(?:年度)?\s*(?:区ＣＭ|区CM)?\s*"
    r"(?:当初予算額|予算額|算定見込額|予算見込額|決算額))"
)
_PAGE_NUMBER = re.compile(r"(ページ番号\s*[:：]\s*)[0-9０-９]+")
_CANONICAL = re.compile(r'(rel="canonical" href="[^"]*/page/)\d+(\.html")')
_HEADING_BOX = re.compile(r'<div class="sub_h([23])_box">\s*<h\1>(.*?)</h\1>\s*</div>', re.S)
_BOLD_P = re.compile(r"<p><strong>((?:(?!</?p\b).)*?)</strong>(?:&nbsp;|\s|\u3000)*</p>", re.S)
_UL = re.compile(r"<ul>\s*((?:<li>.*?</li>\s*)+)</ul>", re.S)
_LI = re.compile(r"<li>(.*?)</li>", re.S)
_DOT_P_RUN = re.compile(r"(?:<p>・(?:(?!</?p\b).)*?</p>\s*)+", re.S)
_DOT_P = re.compile(r"<p>・((?:(?!</?p\b).)*?)</p>", re.S)
_TEXT = re.compile(r">([^<>]+)<")
_ENTITY = re.compile(r"(&#?\w+;)")
_AMOUNT = re.compile(r"([0-9][0-9,]*|[０-９][０-９，]*)(?=\s*千円)")
_MILLIONS = re.compile(r"([0-9]+|[０-９]+)(?=百万円)")
_DATE = re.compile(r"^\d{4}年\s*\d{1,2}月\s*\d{1,2}日$")  # the page date: kept whole
_LINE_FORMS = (*v.END_FORMS, *v.SKIP_FORMS, *v.NOTE_FORMS)
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    text: str
    codec: str
    ward: str
    fiscal_year: int
    counts: tuple[int, int, int]  # issues, strategies, initiatives of the fixture's parse


@dataclass(frozen=True, slots=True)
class Page:
    source: str
    data: bytes
    url: str
    ward: str
    ward_slug: str
    fiscal_year: int
    page_id: str
    counts: tuple[int, int, int]
    version: int = 0  # the build corpus: the how-manieth stored version of its page


def tree_counts(policy: WardPolicy) -> tuple[int, int, int]:
    strategies = [s for issue in policy.issues for s in issue.strategies]
    return (
        len(policy.issues),
        len(strategies),
        sum(len(s.initiatives) for s in strategies),
    )


def load_sources() -> list[Source]:
    sources = []
    for name in SOURCE_NAMES:
        data = (PAGES / name).read_bytes()
        policy = parse_page(data)
        text, _ = decode(data)
        codec = "utf-8"
        if text.encode("utf-8") != data.removeprefix(b"\xef\xbb\xbf"):
            codec = "cp932"
        sources.append(
            Source(name, text, codec, policy.ward, policy.fiscal_year, tree_counts(policy))
        )
    return sources


def era_label(year: int) -> str:
    if year >= 2019:
        return "令和元年度" if year == 2019 else f"令和{year - 2018}年度"
    return f"平成{year - 1988}年度"


def _digits(text: str) -> int:
    return 1 if text == "元" else int(text.translate(_HALF))


def _token(number: int) -> str:
    """A number as katakana: no digit, bracket or budget word, so it changes no rule."""
    letters = []
    while True:
        number, rest = divmod(number, len(_KANA))
        letters.append(_KANA[rest])
        if number == 0:
            return "".join(reversed(letters))


def _split_body(html: str) -> tuple[str, str]:
    """(chrome before the body, the body): variants touch only the body."""
    for marker in ('<div id="mol_contents">', "</h1>"):
        at = html.find(marker)
        if at >= 0:
            return html[: at + len(marker)], html[at + len(marker) :]
    return "", html


def _replace_ward(html: str, old: str, new: str) -> str:
    # 住吉区 must not hit 東住吉区, nor 淀川区 西淀川区.
    longer = {name[: -len(old)] for name in WARD_SLUGS if name != old and name.endswith(old)}
    guard = f"(?<![{''.join(sorted(c[-1] for c in longer))}])" if longer else ""
    html = re.sub(guard + re.escape(old), new, html)
    return html.replace(f"/{WARD_SLUGS[old]}/", f"/{WARD_SLUGS[new]}/")


def _replace_year(html: str, old: int, new: int) -> str:
    def era(match: re.Match[str]) -> str:
        base = 1988 if match.group(1) == "平成" else 2018
        return era_label(new) if base + _digits(match.group(2)) == old else match.group(0)

    def gregorian(match: re.Match[str]) -> str:
        return f"{new}年度" if _digits(match.group(1)) == old else match.group(0)

    def short(match: re.Match[str]) -> str:
        value = _digits(match.group(1))
        if value not in (old - 1988, old - 2018):
            return match.group(0)
        number = new - 2018 if new >= 2019 else new - 1988
        return (
            str(number).translate(_FULL)
            if match.group(1)[0] in "０１２３４５６７８９"
            else str(number)
        )

    html = _ERA_LABEL.sub(era, html)
    html = _GREGORIAN.sub(gregorian, html)
    return _SHORT_YEAR.sub(short, html)


def _bold_headings(body: str) -> str:
    return _HEADING_BOX.sub(r'<div class="mol_textblock"><p><strong>\2</strong></p></div>', body)


def _box_headings(body: str) -> str:
    return _BOLD_P.sub(r"<h3>\1</h3>", body)


def _dot_bullets(body: str, rng: random.Random) -> str:
    def replace(match: re.Match[str]) -> str:
        items = _LI.findall(match.group(1))
        rng.shuffle(items)
        return "".join(f"<p>・{item}</p>\n" for item in items)

    return _UL.sub(replace, body)


def _list_bullets(body: str, rng: random.Random) -> str:
    def replace(match: re.Match[str]) -> str:
        items = _DOT_P.findall(match.group(0))
        rng.shuffle(items)
        return "<ul>\n" + "".join(f"<li>{item}</li>\n" for item in items) + "</ul>\n"

    return _DOT_P_RUN.sub(replace, body)


def _shuffle_bullets(body: str, rng: random.Random) -> str:
    def replace(match: re.Match[str]) -> str:
        items = _LI.findall(match.group(1))
        rng.shuffle(items)
        return "<ul>\n" + "".join(f"<li>{item}</li>\n" for item in items) + "</ul>"

    return _UL.sub(replace, body)


def _map_text(body: str, change: object) -> str:
    """Apply change(text) to the text between tags, leaving entities whole."""

    def replace(match: re.Match[str]) -> str:
        parts = _ENTITY.split(match.group(1))
        parts[::2] = [change(part) for part in parts[::2]]  # type: ignore[operator]
        return ">" + "".join(parts) + "<"

    return _TEXT.sub(replace, body)


def _fixed_line(text: str) -> bool:
    """Lines whose wording a rule reads as a whole: a token would change their meaning."""
    line = clean_line(text)
    if not line or "円" in line or "額" in line or "運営方針" in line:
        return True
    return bool(
        match_section(line)
        or match_marker(line)
        or any(form.pattern.search(line) for form in _LINE_FORMS)
        or "案" in line
        or _DATE.match(line)
    )


def _insert_token(text: str, token: str) -> str:
    """After the last kana/kanji of a text, unless a number follows it (【経営課題1】)."""
    if len(text.strip()) < 4 or _fixed_line(text):
        return text
    last = next(reversed(list(_CJK.finditer(text))), None)
    if last is None or re.search(r"[0-9０-９]", text[last.end() :]):
        return text
    return text[: last.end()] + token + text[last.end() :]


def _amounts(body: str, rng: random.Random) -> str:
    def thousands(match: re.Match[str]) -> str:
        value = f"{rng.randrange(1, 200_000):,}"
        return (
            value.translate(_FULL).replace(",", "，")
            if match.group(1)[0] in "０１２３４５６７８９"
            else value
        )

    def millions(match: re.Match[str]) -> str:
        value = str(rng.randrange(1, 900))
        return value.translate(_FULL) if match.group(1)[0] in "０１２３４５６７８９" else value

    return _MILLIONS.sub(millions, _AMOUNT.sub(thousands, body))


@dataclass(frozen=True, slots=True)
class Style:
    """How a page is marked up: the same for every version of one page."""

    headings: str  # keep / bold / box
    bullets: str  # keep / dots / list
    digits: str  # keep / full / half


def pick_style(rng: random.Random) -> Style:
    return Style(
        rng.choice(("keep", "bold", "box")),
        rng.choice(("keep", "dots", "list")),
        rng.choice(("keep", "full", "half")),
    )


def render_page(
    source: Source,
    ward: str,
    year: int,
    page_id: str,
    token: str,
    style: Style,
    shuffle: random.Random,
    amounts: random.Random,
    version: int = 0,
) -> Page:
    """The source as `ward`'s page for `year`, marked up in `style`; `shuffle` orders the
    bullets, `amounts` draws the budget amounts."""
    html = _replace_ward(source.text, source.ward, ward)
    html = _replace_year(html, source.fiscal_year, year)
    html = _PAGE_NUMBER.sub(lambda m: m.group(1) + page_id, html)
    html = _CANONICAL.sub(lambda m: m.group(1) + page_id.zfill(10) + m.group(2), html)
    head, body = _split_body(html)
    if style.headings == "bold":
        body = _bold_headings(body)
    elif style.headings == "box":
        body = _box_headings(body)
    if style.bullets == "dots":
        body = _dot_bullets(body, shuffle)
    elif style.bullets == "list":
        body = _list_bullets(body, shuffle)
    else:
        body = _shuffle_bullets(body, shuffle)
    if style.digits != "keep":
        table = _FULL if style.digits == "full" else _HALF
        body = _map_text(body, lambda text: text.translate(table))
    body = _map_text(body, lambda text: _insert_token(text, token))
    body = _amounts(body, amounts)
    if version:  # a later version also edits one line (pages without amounts change too)
        body = body.replace(token, token[:-1] + _KANA[version % len(_KANA)] + token[-1], 1)
    slug = WARD_SLUGS[ward]
    return Page(
        source=source.name,
        data=(head + body).encode(source.codec),
        url=f"https://www.city.osaka.lg.jp/{slug}/page/{page_id.zfill(10)}.html",
        ward=ward,
        ward_slug=slug,
        fiscal_year=year,
        page_id=page_id,
        counts=source.counts,
        version=version,
    )


def make_page(source: Source, rng: random.Random, serial: int, token: str) -> Page:
    ward = rng.choice(list(WARD_SLUGS))
    year = rng.choice(FISCAL_YEARS)
    return render_page(source, ward, year, str(100_000 + serial), token, pick_style(rng), rng, rng)


def make_round(sources: list[Source], n_pages: int, round_index: int, seed: int = 0) -> list[Page]:
    """n_pages pages, cycling through the sources; content depends on the round."""
    rng = random.Random(f"{seed}:{round_index}")
    pages = []
    for index in range(n_pages):
        serial = round_index * n_pages + index
        token = "ン" + _token(serial) + "ン"
        pages.append(make_page(sources[index % len(sources)], rng, serial, token))
    return pages


def make_build_corpus(
    sources: list[Source], n_pages: int, seed: int = 0, versions: int = 4
) -> list[Page]:
    """n_pages stored versions for a whole build: at least `versions` versions of each page,
    one page per ward and fiscal year, the 24 wards in turn and the years counting up from
    2013. The build refuses a year outside the site's range (2013 … next fiscal year,
    calendar.fiscal_year_problem), so a corpus needing more policies than 24 wards × those
    years has more versions a page instead (10,000 versions: 360 policies of ~28 versions).
    A ward keeps its source page for a few years (a new one with odds 1 in 4 each year), so
    most nodes have a predecessor to link to; the versions of a page differ in their budget
    amounts, so `changes` has rows."""
    years = range(FIRST_FISCAL_YEAR, last_fiscal_year() + 1)
    versions = max(versions, -(-n_pages // (len(WARD_SLUGS) * len(years))))
    rng = random.Random(f"{seed}:build")
    wards = list(WARD_SLUGS)
    source_of: dict[str, int] = {}
    pages: list[Page] = []
    policy = 0
    while len(pages) < n_pages:
        ward, year = wards[policy % len(wards)], years.start + policy // len(wards)
        if ward not in source_of or rng.random() < 0.25:
            source_of[ward] = rng.randrange(len(sources))
        source = sources[source_of[ward]]
        style, order_seed = pick_style(rng), rng.random()
        token = "ン" + _token(policy) + "ン"
        for version in range(min(versions, n_pages - len(pages))):
            pages.append(
                render_page(
                    source,
                    ward,
                    year,
                    str(200_000 + policy),
                    token,
                    style,
                    random.Random(order_seed),
                    random.Random(f"{seed}:{policy}:{version}"),
                    version,
                )
            )
        policy += 1
    return pages
