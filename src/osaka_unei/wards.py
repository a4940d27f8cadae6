"""The 24 wards of Osaka City: name as written in titles, directory slug on the site,
official ward code, and the city's usual order."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from osaka_unei.errors import BadInputError


@dataclass(frozen=True, slots=True)
class Ward:
    name: str  # as titles write it
    slug: str  # the ward's directory on the site
    code: str  # 全国地方公共団体コード without the check digit (総務省), e.g. 27127


# In the city's usual order (北区 first, as its own pages list the wards); the codes are
# older than that order (北区 and 中央区 were formed in 1989), so they do not sort alike.
WARDS: tuple[Ward, ...] = (
    Ward("北区", "kita", "27127"),
    Ward("都島区", "miyakojima", "27102"),
    Ward("福島区", "fukushima", "27103"),
    Ward("此花区", "konohana", "27104"),
    Ward("中央区", "chuo", "27128"),
    Ward("西区", "nishi", "27106"),
    Ward("港区", "minato", "27107"),
    Ward("大正区", "taisho", "27108"),
    Ward("天王寺区", "tennoji", "27109"),
    Ward("浪速区", "naniwa", "27111"),
    Ward("西淀川区", "nishiyodogawa", "27113"),
    Ward("淀川区", "yodogawa", "27123"),
    Ward("東淀川区", "higashiyodogawa", "27114"),
    Ward("東成区", "higashinari", "27115"),
    Ward("生野区", "ikuno", "27116"),
    Ward("旭区", "asahi", "27117"),
    Ward("城東区", "joto", "27118"),
    Ward("鶴見区", "tsurumi", "27124"),
    Ward("阿倍野区", "abeno", "27119"),
    Ward("住之江区", "suminoe", "27125"),
    Ward("住吉区", "sumiyoshi", "27120"),
    Ward("東住吉区", "higashisumiyoshi", "27121"),
    Ward("平野区", "hirano", "27126"),
    Ward("西成区", "nishinari", "27122"),
)
WARD_SLUGS: dict[str, str] = {ward.name: ward.slug for ward in WARDS}
WARD_CODES: dict[str, str] = {ward.slug: ward.code for ward in WARDS}
# The city's order by the names the tables hold (`ward`): 北区 → 1, 都島区 → 2, … 西成区 → 24.
# `list(WARD_ORDER)` is the names in order (categories for pandas); a value sorts:
# `df.sort_values("ward", key=lambda s: s.map(WARD_ORDER))`. SLUG_ORDER: the same by slug.
WARD_ORDER: dict[str, int] = {ward.name: index for index, ward in enumerate(WARDS, 1)}
SLUG_ORDER: dict[str, int] = {ward.slug: index for index, ward in enumerate(WARDS, 1)}
SLUG_WARDS: dict[str, str] = {slug: name for name, slug in WARD_SLUGS.items()}

# Every way a user may name a ward (北区, 北, kita, 27127), folded as `_fold` folds them.
_WARD_KEYS: dict[str, Ward] = {
    key: ward
    for ward in WARDS
    for key in (ward.name, ward.name.removesuffix("区"), ward.slug, ward.code)
}


def _fold(text: str) -> str:
    """NFKC (full-width letters and digits), trimmed, lower case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def valid_wards() -> str:
    """The wards as one line, for an error message: `北区 kita 27127, 都島区 …`."""
    return ", ".join(f"{ward.name} {ward.slug} {ward.code}" for ward in WARDS)


def resolve_ward(text: str) -> Ward:
    """The ward a user names as 北区, 北, kita or 27127 (full-width or any case);
    ValueError, in one line listing the valid ones, for anything else."""
    ward = _WARD_KEYS.get(_fold(text))
    if ward is None:
        raise BadInputError(f"unknown ward {text!r}; a ward is one of: {valid_wards()}")
    return ward


# Longest names first, so that 東住吉区 is not read as 住吉区 nor 西淀川区 as 淀川区.
_WARD_NAMES = sorted((name[:-1] for name in WARD_SLUGS), key=len, reverse=True)
# 区度 is the city's own typo (令和4年度 生野区度運営方針); spaces are tolerated.
WARD_TITLE_RE = re.compile(r"(" + "|".join(_WARD_NAMES) + r")区度?\s*運営方針")


def ward_named_in_title(title: str) -> str | None:
    """The ward (e.g. '北区') a 運営方針 title names before 運営方針, or None (bureau, other)."""
    match = WARD_TITLE_RE.search(title)
    return match.group(1) + "区" if match else None


# A page's path on the site: /{section}/page/{page number, zero-padded to 10 digits}.html
# The city's site: every page the project reads is on it.
SITE_HOST = "www.city.osaka.lg.jp"
SITE_URL = f"https://{SITE_HOST}/"

PAGE_PATH = re.compile(r"^/([a-z0-9_-]+)/page/(\d{1,12})\.html$")


def page_address(url: str | None) -> tuple[str, str] | None:
    """(section slug, page id without zero padding) of a page address, or None."""
    match = PAGE_PATH.match(urlsplit(url or "").path)
    return (match.group(1), str(int(match.group(2)))) if match else None
