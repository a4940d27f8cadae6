"""The 24 wards of Osaka City: name as written in titles, and directory slug on the site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WARD_SLUGS: dict[str, str] = {
    "北区": "kita",
    "都島区": "miyakojima",
    "福島区": "fukushima",
    "此花区": "konohana",
    "中央区": "chuo",
    "西区": "nishi",
    "港区": "minato",
    "大正区": "taisho",
    "天王寺区": "tennoji",
    "浪速区": "naniwa",
    "西淀川区": "nishiyodogawa",
    "淀川区": "yodogawa",
    "東淀川区": "higashiyodogawa",
    "東成区": "higashinari",
    "生野区": "ikuno",
    "旭区": "asahi",
    "城東区": "joto",
    "鶴見区": "tsurumi",
    "阿倍野区": "abeno",
    "住之江区": "suminoe",
    "住吉区": "sumiyoshi",
    "東住吉区": "higashisumiyoshi",
    "平野区": "hirano",
    "西成区": "nishinari",
}
SLUG_WARDS: dict[str, str] = {slug: name for name, slug in WARD_SLUGS.items()}

# Longest names first, so that 東住吉区 is not read as 住吉区 nor 西淀川区 as 淀川区.
_WARD_NAMES = sorted((name[:-1] for name in WARD_SLUGS), key=len, reverse=True)
# 区度 is the city's own typo (令和4年度 生野区度運営方針); spaces are tolerated.
WARD_TITLE_RE = re.compile(r"(" + "|".join(_WARD_NAMES) + r")区度?\s*運営方針")


def ward_named_in_title(title: str) -> str | None:
    """The ward (e.g. '北区') a 運営方針 title names before 運営方針, or None (bureau, other)."""
    match = WARD_TITLE_RE.search(title)
    return match.group(1) + "区" if match else None


# A page's path on the site: /{section}/page/{page number, zero-padded to 10 digits}.html
PAGE_PATH = re.compile(r"^/([a-z0-9_-]+)/page/(\d{1,12})\.html$")


def page_address(url: str | None) -> tuple[str, str] | None:
    """(section slug, page id without zero padding) of a page address, or None."""
    match = PAGE_PATH.match(urlsplit(url or "").path)
    return (match.group(1), str(int(match.group(2)))) if match else None
