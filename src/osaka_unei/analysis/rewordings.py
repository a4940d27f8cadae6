"""The usual rewordings of this site's titles from one year to the next, as data.

A ward keeps an item and rewords its title: `安全・安心のまちづくり` becomes
`安全・安心のまち`, `安全・安心なまちづくり` becomes `安全で安心なまちづくり(地域防災・地域福祉
の推進)`, `…の充実` becomes `…の一層の充実`. Each entry below is one such habit: the pattern,
what it becomes, and an example as a page prints it with the form the entry gives it (tests
check every example against its entry, as parse/variants.py keeps the page forms). Every
example is a real title; `source` names the page it is printed on.

`canonical_title` applies the entries in order to an NFKC title; the linker compares the
canonical forms (lineage.title_similarity). An entry must only remove or unify wording that
names no subject: a rewording that changes what the item is about is not one of these.
A bracketed scope is different: it is dropped only when one of the two titles compared has
one and the other has none (`scope_pair`), so 区災害対策機能の強化(公助) and …(共助) stay apart.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rewording:
    name: str
    pattern: re.Pattern[str]
    replacement: str
    example: str  # a real title (NFKC), as printed
    becomes: str  # the example after this entry alone
    source: str  # the page the example is printed on


def _entry(
    name: str, regex: str, replacement: str, example: str, becomes: str, source: str
) -> Rewording:
    return Rewording(name, re.compile(regex), replacement, example, becomes, source)


# Order matters: spelling first, then joins, then the phrases around the subject, then the
# endings (an ending is only recognised once what follows it is gone).
REWORDINGS: tuple[Rewording, ...] = (
    _entry(
        "spelling: 支えあう / 支え合う",
        r"支えあ",
        "支え合",
        "地域で支えあう安全なまち「大正」",
        "地域で支え合う安全なまち「大正」",
        "https://www.city.osaka.lg.jp/taisho/page/0000624101.html",
    ),
    _entry(
        "spelling: 誰 / だれ",
        r"誰",
        "だれ",
        "誰もが安全・安心して暮らせるまち",
        "だれもが安全・安心して暮らせるまち",
        "https://www.city.osaka.lg.jp/abeno/page/0000430374.html",
    ),
    _entry(
        "spelling: 子供 / こども / 子ども",
        r"子供|こども",
        "子ども",
        "こどもの未来が輝くまち「大正」",
        "子どもの未来が輝くまち「大正」",
        "https://www.city.osaka.lg.jp/taisho/page/0000596147.html",
    ),
    _entry(
        "joined: 安全・安心, 安全で安心, 安全と安心, 安心・安全",
        r"安全[・、とで]?安心|安心[・、とで]?安全",
        "安全安心",
        "安全と安心を未来につなぐまち",
        "安全安心を未来につなぐまち",
        "https://www.city.osaka.lg.jp/abeno/page/0000518166.html",
    ),
    _entry(
        "intensifier: 一層の, さらなる",
        r"より一層の?|一層の|さらなる|更なる",
        "",
        "子育て・教育環境の一層の充実",
        "子育て・教育環境の充実",
        "https://www.city.osaka.lg.jp/asahi/page/0000533715.html",
    ),
    _entry(
        "everyone: だれもが, みんなが at the start",
        r"^(?:だれもが|みんなが|みんなで)",
        "",
        "だれもが健やかにいきいきと暮らせるまちづくり",
        "健やかにいきいきと暮らせるまちづくり",
        "https://www.city.osaka.lg.jp/minato/page/0000596302.html",
    ),
    _entry(
        "living: (に|で|して)暮らせる, 住みやすい",
        r"(?:に|で|して)?(?:暮らせる|暮らし続けられる|住みやすい|住み続けられる)",
        "",
        "安全・安心で住みやすいまちづくり",
        "安全・安心まちづくり",
        "https://www.city.osaka.lg.jp/naniwa/page/0000595926.html",
    ),
    _entry(
        "ending: の推進, の実現 after the subject",
        r"の(?:推進|実現)$",
        "",
        "人がつながる、豊かな地域コミュニティの実現",
        "人がつながる、豊かな地域コミュニティ",
        "https://www.city.osaka.lg.jp/sumiyoshi/page/0000626160.html",
    ),
    _entry(
        "ending: (な|の)まちづくり, (な|の)まち",
        r"[なの]?まち(?:づくり)?$",
        "",
        "安全・安心のまち",
        "安全・安心",
        "https://www.city.osaka.lg.jp/miyakojima/page/0000672546.html",
    ),
)

# A bracketed note at the end of a title: (地域防災・地域福祉の推進), 【…】, ≪…≫.
SCOPE = re.compile(r"\s*[(〔\[【《≪<][^()〔〕\[\]【】《》≪≫<>]+[)〕\]】》≫>]\s*$")
SCOPE_EXAMPLE = (
    "安全で安心なまちづくり(地域防災・地域福祉の推進)",
    "安全で安心なまちづくり",
    "https://www.city.osaka.lg.jp/yodogawa/page/0000650816.html",
)
# A canonical form shorter than this says too little: the title is compared as it is.
MIN_CANONICAL = 2


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


@functools.lru_cache(maxsize=65536)
def strip_scope(text: str) -> str:
    """The title without a bracketed note at its end (NFKC)."""
    return SCOPE.sub("", _nfkc(text))


def scope_pair(a: str | None, b: str | None) -> tuple[str, str]:
    """The two titles (NFKC), the bracketed note at the end dropped where only one has one."""
    na, nb = _nfkc(a), _nfkc(b)
    sa, sb = strip_scope(na), strip_scope(nb)
    a_has, b_has = sa != na, sb != nb
    if a_has and not b_has and sa:
        return sa, nb
    if b_has and not a_has and sb:
        return na, sb
    return na, nb


@functools.lru_cache(maxsize=65536)
def canonical_title(text: str | None) -> str:
    """The NFKC title with REWORDINGS applied in order (its punctuation kept)."""
    result = _nfkc(text)
    for entry in REWORDINGS:
        result = entry.pattern.sub(entry.replacement, result).strip()
    return result
