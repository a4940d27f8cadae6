"""Every heading and budget form seen on the pages, as data.

Each entry names the form, the era it belongs to and an example as the page prints it
(after NFKC: full-width brackets, digits and colons are already folded). A new variant is
one entry here plus one fixture; tests check every example against its entry.
Rules are tried in order; the first that matches a line wins.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Literal

# Brackets the pages put around headings, in any pairing (the city's typos included).
OPEN = r"[【《≪<\[〈〔]"
CLOSE = r"[】》≫>\]〉〕]"
# A title runs to the first closing bracket. Greedy, not lazy: the trailing spaces it takes
# are stripped with the brackets (parse.clean_title), and a lazy run costs a test of the
# rest of the pattern at every character (profiled: half the time of a heading match).
_NOT_CLOSE = r"[^】》≫>\]〉〕]"
# 1-1 or 1-1-1; the hyphen may be any dash the pages use. A part is 1 to 3 ASCII digits
# (NFKC has folded full-width ones) and never followed by another digit: 1-1-100 is read
# whole, not cut to 1-1-10 and a title "0 …"; a longer number, or digits of another
# script (٣), fits no form and is reported as a heading no form reads.
DASHES = "-‐‑‒–—―−ー"
SEP = rf"\s*[{DASHES}]\s*"
_PART = r"[0-9]{1,3}(?![0-9])"
_CODE = rf"{_PART}(?:{SEP}{_PART}){{0,2}}"
_CODE2 = rf"{_PART}{SEP}{_PART}(?:{SEP}{_PART})?"  # at least two parts
_KW = r"(?P<kw>(?:主な)?\s*(?:戦略|具体的な?取(?:り)?組(?:み)?))"
_TITLE_SEP = r"\s*[::.]?\s*"

Role = Literal["issue", "node", "node_unnumbered"]


@dataclass(frozen=True, slots=True)
class Form:
    """One form of a line: its name, the era it belongs to, an example as the page prints
    it, and the pattern. `role` says what a heading form reads (see HEADING_FORMS).

    A form is matched at the start of the line, unless it has `hints`: then it may match
    anywhere in the line, and every match contains one of the hints (the line is searched
    only where one occurs)."""

    name: str
    era: str
    example: str
    pattern: re.Pattern[str]
    role: Role | None = None
    hints: tuple[str, ...] = ()


# Names kept for readers and annotations: every table holds Forms.
HeadingForm = SectionForm = LineForm = MarkerForm = ReformForm = BudgetForm = Form


def _form(name: str, role: Role, era: str, example: str, regex: str) -> Form:
    """A heading form. role "node": strategy or initiative, told apart by the depth of the
    code (1-1 / 1-1-1), falling back on the keyword; "node_unnumbered": the keyword says."""
    return Form(name, era, example, re.compile(regex), role)


def _plain(name: str, era: str, example: str, regex: str, hints: tuple[str, ...] = ()) -> Form:
    return Form(name, era, example, re.compile(regex), hints=hints)


HEADING_FORMS: tuple[Form, ...] = (
    _form(
        "issue: number alone in brackets, title after",
        "issue",
        "H27–R4 (北区 H31, 東住吉区 R2); ≪≫ variant",
        "【経営課題1】 安全安心なまちづくり",
        rf"^{OPEN}\s*経営課題\s*(?P<code>{_PART})\s*{CLOSE}{_TITLE_SEP}(?P<title>.*)$",
    ),
    _form(
        "issue: number and title in brackets",
        "issue",
        "H27–R4",
        "【経営課題1 地域福祉の推進】",
        rf"^{OPEN}\s*経営課題\s*(?P<code>{_PART}){_TITLE_SEP}(?P<title>{_NOT_CLOSE}+)\s*"
        rf"(?:{CLOSE}\s*(?P<rest>.*))?$",
    ),
    _form(
        "issue: number with a sub-number in parentheses",
        "issue",
        "a real page (site-notes, second look at 104 pages): the -(1) belongs to the number",
        "経営課題1-(1)地域コミュニティの活性化",
        rf"^経営課題\s*(?P<code>\d{{1,2}}){SEP}\(\s*\d{{1,2}}\s*\){_TITLE_SEP}(?P<title>.*)$",
    ),
    _form(
        "issue: plain",
        "issue",
        "H27–R4 (西区 H29, 港区 R4, 鶴見区 R4)",
        "経営課題1 地域コミュニティのさらなる活性化",
        rf"^経営課題\s*(?P<code>{_PART}){_TITLE_SEP}(?P<title>.*)$",
    ),
    _form(
        "keyword and number in brackets, title after",
        "node",
        "R2 (東住吉区)",
        "【戦略1-1】 東住吉ゆめ応援プロジェクトの充実",
        rf"^{OPEN}\s*{_KW}\s*(?P<code>{_CODE})\s*{CLOSE}{_TITLE_SEP}(?P<title>.*)$",
    ),
    _form(
        "keyword, number and title in brackets",
        "node",
        "H25–R4 (北区 H31, 港区 R4 with 主な, H25 with a colon)",
        "【戦略1-1 地域防災】",
        rf"^(?:主な)?{OPEN}\s*{_KW}\s*(?P<code>{_CODE}){_TITLE_SEP}(?P<title>{_NOT_CLOSE}+)\s*"
        rf"(?:{CLOSE}\s*(?P<rest>.*))?$",
    ),
    _form(
        "keyword outside, number and title in brackets",
        "node",
        "H25–H29 (西区 H29)",
        "主な戦略【1-1 地域活動協議会の活動支援】",
        rf"^{_KW}\s*{OPEN}\s*(?P<code>{_CODE}){_TITLE_SEP}(?P<title>{_NOT_CLOSE}*)\s*"
        rf"(?:{CLOSE}\s*(?P<rest>.*))?$",
    ),
    _form(
        "number and title in brackets, no keyword (after a 《主な戦略》 line)",
        "node",
        "H25–R4 (鶴見区 R4; <1-1 …> in H25–26)",
        "【1-1 地域共生社会の実現】",
        rf"^{OPEN}\s*(?P<code>{_CODE2}){_TITLE_SEP}(?P<title>{_NOT_CLOSE}+)\s*"
        rf"(?:{CLOSE}\s*(?P<rest>.*))?$",
    ),
    _form(
        "number alone in brackets, no keyword, title after",
        "node",
        "H27–R4",
        "【1-1】 地域防災力の向上",
        rf"^{OPEN}\s*(?P<code>{_CODE2})\s*{CLOSE}{_TITLE_SEP}(?P<title>.+)$",
    ),
    _form(
        "keyword and number, plain",
        "node",
        "H27–R4",
        "戦略1-1 地域防災力の向上",
        rf"^{_KW}\s*(?P<code>{_CODE2}){_TITLE_SEP}(?P<title>.*)$",
    ),
    _form(
        "keyword and title in brackets, no number (budget label inside)",
        "node_unnumbered",
        "R4 (label '(4年度予算額)' in the heading, amount after the title)",
        "【主な具体的取組(4年度予算額) 地域活動の支援(77,800千円)】",
        rf"^{OPEN}\s*{_KW}{_TITLE_SEP}(?P<title>{_NOT_CLOSE}+)\s*{CLOSE}\s*(?P<rest>.*)$",
    ),
)

# Lines that open a part of the page. Brackets around them are optional and may not balance.
SectionName = Literal["goal", "mission", "basic_policy", "issues", "reforms", "block_heading"]


_O = rf"(?:\d\s*)?{OPEN}?\s*"
_C = rf"\s*{CLOSE}?"
_ERA_YEAR = r"(?:(?:平成|令和)\s*(?:\d{1,2}|元)\s*年?\s*度|\d{4}\s*年度(?:\([^)]{0,12}\))?)?\s*"


SECTION_FORMS: tuple[Form, ...] = (
    _plain(
        "block_heading",
        "R5– (a few pages)",
        "「目標」「使命」及び「所属運営の基本的な考え方」",
        r"^「目標」「使命」及び「[^」]*基本的な考え方」$",
    ),
    _plain(
        "goal",
        "all (区の dropped from R5; 区・局の on some pages; unbalanced bracket typo)",
        "【区の目標(何をめざすのか)】",
        rf"^{_O}(?:区・局の|区の|局の)?目標\s*(?:\(何をめざすのか\)?)?{_C}$",
    ),
    _plain(
        "mission",
        "all (区の dropped from R5)",
        "【区の使命(どのような役割を担うのか)】",
        rf"^{_O}(?:区・局の|区の|局の)?使命\s*(?:\(どのような役割を担うのか\)?)?{_C}$",
    ),
    _plain(
        "basic_policy",
        "H25–26: 区運営の基本的な考え方(何に重点的に…); H27–R4: (区長の方針); R5–: 所属運営の…",
        "【平成31年度 区運営の基本的な考え方(区長の方針)】",
        rf"^{_O}{_ERA_YEAR}(?:区|区政|区・局|所属|区の)?\s*(?:運営|運営方針)?の?\s*基本的な考え方"
        r"[^。]{0,70}$",
    ),
    _plain(
        "basic_policy",
        "some pages: a bare 区長の方針 / 区・局長の方針 heading",
        "【区・局長の方針】",
        rf"^{_O}(?:区・局|区|局|所属)長の方針{_C}$",
    ),
    _plain(
        "issues",
        "all ((様式2) after it, a number before it, 主な dropped from R5)",
        "重点的に取り組む主な経営課題",
        rf"^{_O}重点的に取り組む(?:主な)?経営課題{_C}\s*(?:\(様式2(?:より)?\))?$",
    ),
    _plain(
        "reforms",
        "H27–R4 (プラン2.0, 3.0, 3.1 …)",
        "「市政改革プラン2.0」に基づく取組等",
        rf"^{_O}「?(?P<plan>市政改革プラン[\d.]*(?:\([^)]{{0,20}}\))?)」?\s*に基づく取(?:り)?組(?:み)?等?{_C}$",
    ),
)


# Where the page body ends: share buttons, the right box, the contact box.
END_FORMS: tuple[Form, ...] = (
    _plain(
        "share buttons", "all", "SNSリンクは別ウィンドウで開きます", r"^SNSリンクは別ウィンドウ"
    ),
    _plain("right box", "all", "探している情報が見つからない", r"^探している情報が見つからない"),
    _plain(
        "feedback",
        "all",
        "このページに対してご意見をお聞かせください",
        r"^このページに対してご意見",
    ),
    _plain("contact box", "all", "このページの作成者・問合せ先", r"^このページの作成者"),
    _plain("other routes", "all", "このページへの別ルート", r"^このページへの別ルート"),
)

# Not policy text, dropped wherever they appear in the body. Which one reads a line does
# not matter, except that the walk looks for the Adobe note first (parse._attachment_names).
SKIP_FORMS: tuple[Form, ...] = (
    _plain(
        "Adobe licence note",
        "all",
        "Adobe Acrobat Reader DCのダウンロード(無償)別ウィンドウで開く",
        r"^(?:Adobe |PDFファイルを閲覧できない|PDF形式のファイルをご覧いただく)",
    ),
    _plain(
        "alt-text markers",
        "all captures",
        "ページの先頭です",
        r"^(?:ページの先頭です|メニューの終端です。?|スマートフォン表示用の情報の終端です。?)$",
    ),
    _plain("history link heading", "R2–", "策定経過", r"^策定経過$"),
    _plain(
        "past pages link heading", "R3–", "過去の港区運営方針", r"^過去の.{0,20}運営方針(?:一覧)?$"
    ),
    _plain(
        "link to another year's page",
        "R3– (the list under 過去の…運営方針)",
        "令和3年度港区運営方針",
        r"^(?:(?:平成|令和)\s*(?:\d{1,2}|元)\s*年?\s*度|\d{4}\s*年度)[^。]{0,24}運営方針"
        r"(?:\((?:素案|案)\))?$",
    ),
    _plain(
        "revision history attachment",
        "H29–",
        "平成29年度 西区運営方針改定履歴",
        r"運営方針改定履歴$",
        hints=("運営方針改定履歴",),
    ),
    _plain(
        "attachment link",
        "all",
        "平成29年度 西区運営方針(PDF形式, 92.62KB)",
        r"\((?:PDF|Word|Excel|ワード|エクセル)形式[^)]*\)$",
        hints=("形式",),
    ),
    _plain("form sheet marker", "H27–R4", "(様式2より)", r"^\(様式\d(?:より)?\)$"),
)

# Page-history notes near the top (kept in `notes`, never in policy text).
NOTE_FORMS: tuple[Form, ...] = (
    _plain(
        "progress note",
        "H27–",
        "運営方針の進捗管理(中間)を実施しました。その結果について、…(平成29年9月29日)",
        r"^運営方針の進捗管理.{0,12}を実施しました",
    ),
    _plain(
        "standard intro",
        "R1–",
        "運営方針は「施策の選択と集中」の全体像を示す方針として…",
        r"^運営方針は「施策の選択と集中」",
    ),
    _plain(
        "draft notice",
        "H25– (素案/案 pages)",
        "この運営方針(素案)は、予算編成の過程で変更となる場合があります。",
        r"(?:素案|\(案\)).{0,40}(?:予算|変更|修正)",
        hints=("素案", "(案)"),
    ),
    _plain(
        "evaluation note",
        "R6–",
        "アウトカム指標の達成状況等を踏まえ自己評価を行い、今後の方針を記載しています。",
        r"アウトカム指標.{0,60}(?:自己評価|今後の方針)",
        hints=("アウトカム指標",),
    ),
)

# Lines inside the issues part that only announce what follows.
MarkerName = Literal["overview", "strategy_list", "initiative_list", "reform_contents", "sdgs"]


_OB = r"[【《≪<\[〈〔(]?\s*"
_CB = r"\s*[】》≫>\]〉〕)]?"

MARKER_FORMS: tuple[Form, ...] = (
    _plain(
        "overview",
        "H27–R4 (経営課題の概要, (概要), ≪概要≫); R5– 課題認識",
        "【経営課題の概要】",
        rf"^{_OB}(?:経営課題の概要|概要|課題認識|現状と課題){_CB}$",
    ),
    _plain(
        "strategy_list",
        "R4 (鶴見区 《主な戦略》); R5– 主な戦略(課題解決の方策) then unnumbered bullets",
        "主な戦略(課題解決の方策)",
        rf"^{_OB}主な戦略{_CB}\s*(?:\(課題解決の方策\))?$",
    ),
    _plain(
        "initiative_list",
        "R4 (鶴見区)",
        "《主な具体的取組》",
        rf"^{_OB}主な具体的な?取(?:り)?組(?:み)?{_CB}$",
    ),
    _plain("reform_contents", "H31 (北区)", "【取組内容】", rf"^{_OB}取組内容{_CB}$"),
    _plain(
        "sdgs",
        "R2– (SDGs tags on issues: numbers, or numbers with the goals' names)",
        "関連するSDGs 11住み続けられるまちづくりを",
        r"^(?:主な|関連する)\s*SDGs(?:ゴール)?\s*:?\s*(?P<goals>(?:\d.*)?)$",
    ),
)


# The 17 SDGs goals by their Japanese names, as data (sdg_goals.toml); a goal line such as
# `1 貧困をなくそう` is read as one only where the name fits the number.
SDG_GOALS: dict[int, str] = {
    int(number): name
    for number, name in tomllib.loads(
        resources.files("osaka_unei.parse").joinpath("sdg_goals.toml").read_text("utf-8")
    )["goals"].items()
}
_GOAL = r"(?:1[0-7]|[1-9])(?!\d)"

# Lines after `主なSDGsゴール` on its own: each names goals, until a line that is none of
# these. Read only there, so they are not in the form index.
SDG_GOAL_FORMS: tuple[Form, ...] = (
    _plain(
        "goal number after 目標",
        "R2– (主なSDGsゴール, then one goal a line)",
        "目標11",
        rf"^目標\s*(?P<goals>{_GOAL})\s*:?\s*(?P<name>\D*)$",
    ),
    _plain(
        "goal number and name",
        "R2– (主なSDGsゴール, then one goal a line)",
        "1 貧困をなくそう",
        rf"^(?P<goals>{_GOAL})\s*[.:、]?\s*(?P<name>\D+)$",
    ),
    _plain(
        "goal numbers alone",
        "R2– (主なSDGsゴール, then the numbers on the next line)",
        "3、11",
        r"^(?P<goals>\d{1,2}(?:[\s、,・]+\d{1,2})*)$",
    ),
)


REFORM_FORMS: tuple[Form, ...] = (
    _plain(
        "item number in brackets, title after",
        "H31–R2 (北区, 東住吉区)",
        "【取組項目2】 職員の育成と人材マネジメント",
        rf"^{OPEN}\s*取組項目\s*(?P<code>\d{{1,2}})?\s*{CLOSE}{_TITLE_SEP}(?P<title>.+)$",
    ),
    _plain(
        "item and title in brackets",
        "H27–R4",
        "【取組項目1 国民健康保険料の収納率向上】",
        rf"^{OPEN}\s*(?:主な)?取組項目\s*(?P<code>\d{{1,2}})?{_TITLE_SEP}(?P<title>{_NOT_CLOSE}+)\s*{CLOSE}$",
    ),
    _plain(
        "主な取組項目, plain",
        "H29 (西区)",
        "主な取組項目 未収金対策の強化",
        rf"^(?:主な)?取組項目\s*(?P<code>\d{{1,2}})?{_TITLE_SEP}(?P<title>.+)$",
    ),
)

# A heading-like line that no form matched: reported, never silently taken as text.
LOOKS_LIKE_HEADING = _plain(
    "numbered heading that no form reads",
    "all (the city's typos: a code that fits no level, a bracket in the wrong place)",
    "【戦略1】 地域防災力の向上",
    rf"^(?:主な)?{OPEN}?\s*(?:主な)?\s*(?:経営課題|戦略|具体的な?取(?:り)?組)\s*\d",
)


# --- budgets ------------------------------------------------------------------------------

# A label names what the amount is and, optionally, the year: 29年度予算額, 25予算額,
# 31算定見込額, 令和3年度決算額, 29年度区CM予算額, 予算額.
# Possessive quantifiers (`*+`, `{1,4}+`) where giving characters back can never lead to a
# match (what follows a run of digits or spaces cannot start with another): the same
# matches, without the backtracking that made budget lines the slowest lines to read
# (profiled: half the time of a budget match). test_parse_units checks that the patterns
# read every line as they do without them.
LABEL = (
    r"(?:(?:令和|平成)\s*+)?(?:\d{1,4}+|元)?\s*+(?:年度|年|度)?\s*+(?:区CM)?\s*+"
    r"(?:当初予算額|予算額|算定見込額|予算見込額|決算額)"
)
# 22,268千円 / 29,474 千円 / 65百万円 / 6千9百万円 / 1億2千万円. Digits may carry commas
# and a decimal point; the unit is the last of 千円, 万円, 円.
_NUMBER = r"\d[\d,]*+(?:\.\d++)?\s*+"
# The usual Japanese negative (▲, △) and minus signs before an amount. A budget is never
# negative (the build checks it), so such an amount is found, warned about and kept as
# null with its raw text, never lost silently (nor read as the dash of "no amount").
NEGATIVE_SIGNS = "-−▲△"
_SIGN = rf"(?:[{NEGATIVE_SIGNS}]\s*+)?"
AMOUNT = (
    rf"{_SIGN}(?=\d)(?:{_NUMBER}億\s*+)?(?:{_NUMBER}千(?!円)\s*+)?(?:{_NUMBER}百(?!円)\s*+)?"
    rf"(?:{_NUMBER})?(?:千円|万円|円)"
)
DASH = r"[-‐‑‒–—―−ー]+"
_B_OPEN = r"[(\[《〔≪【〈]"
_B_CLOSE = r"[)\]》〕≫】〉]"
# An item inside a budget group: a labelled amount or dash, or a bare amount.
_ITEM = rf"(?:{LABEL}\s*:?\s*(?:{AMOUNT}|{DASH})|{AMOUNT})"
# The same, with groups, for reading the items of a matched group one by one.
BUDGET_ITEM = re.compile(
    rf"(?:(?P<label>{LABEL})\s*:?\s*)?(?:(?P<amount>{AMOUNT})|(?P<dash>{DASH}))"
)
# The parts of one amount, for the exact conversion to 千円.
AMOUNT_PARTS = re.compile(
    r"(?:(?P<oku>[\d,.]+)\s*億)?\s*(?:(?P<sen>[\d,.]+)\s*千(?!円))?\s*"
    r"(?:(?P<hyaku>[\d,.]+)\s*百(?!円))?\s*(?P<ones>[\d,.]+)?\s*(?P<unit>千円|万円|円)"
)
BudgetPlace = Literal["bracketed", "label_only", "missing_open", "unbracketed"]


# Applied in this order; each removes what it matched before the next looks.
BUDGET_FORMS: tuple[Form, ...] = (
    _plain(
        "bracketed",
        "all: (29年度予算額 22,268千円) 《5,237千円》 (32,550千円) 〔25予算額 29,474 千円〕 "
        "[予算額 263千円] (31算定見込額 11,050千円) (29年度予算額 - ) (7年度予算額65百万円)",
        "(29年度予算額 22,268千円)",
        rf"{_B_OPEN}\s*(?P<body>{_ITEM}(?:\s*[/、,]\s*{_ITEM})*)\s*{_B_CLOSE}",
    ),
    _plain(
        "label_only",
        "R4: the label in the heading, the amount after the title",
        "【主な具体的取組(4年度予算額) 地域活動の支援(77,800千円)】",
        rf"\(\s*(?P<label>{LABEL})\s*\)",
    ),
    _plain(
        "missing_open",
        "R4 (港区): the opening bracket is missing",
        "…取組の促進を支援2,025千円)",
        rf"(?P<body>(?:{LABEL}\s*:?\s*)?{AMOUNT})\s*{_B_CLOSE}\s*$",
    ),
    _plain(
        "unbracketed",
        "R5–: labelled amounts without brackets, several years on one line",
        "令和3年度決算額 6千9百万円 / 令和4年度予算額 5千3百万円",
        rf"(?P<body>{LABEL}\s*:?\s*(?:{AMOUNT}|{DASH}))",
    ),
)
