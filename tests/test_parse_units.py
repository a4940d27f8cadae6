"""One small test per rule: budgets, years, numbering, headings, sections, error paths."""

from __future__ import annotations

import pytest

from osaka_unei.calendar import fiscal_year_from_title
from osaka_unei.decoding import decode
from osaka_unei.errors import EmptyInputError, UndecodableInputError
from osaka_unei.models import total_budget
from osaka_unei.parse import NotAPolicyPageError, NotAWardPageError, build_policy, parse_page
from osaka_unei.parse import variants as v
from osaka_unei.parse.budgets import amount_thousand_yen, choose_main, extract_budgets
from osaka_unei.parse.extract import Line, text_lines
from osaka_unei.parse.headings import (
    match_heading,
    match_marker,
    match_section,
    normalize_code,
    sdg_goal_numbers,
    sdg_goals_of_line,
)
from osaka_unei.text import clean_line

# --- amounts and budgets -------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("22,268千円", 22_268),
        ("29,474 千円", 29_474),
        ("0千円", 0),
        ("65百万円", 65_000),
        ("6千9百万円", 69_000),
        ("5千3百万円", 53_000),
        ("7千万円", 70_000),
        ("1億2千万円", 120_000),
        ("1.5百万円", 1_500),
        ("1,234百万円", 1_234_000),
        ("500万円", 5_000),
        ("1,500,000円", 1_500),
        ("1,500円", None),  # not a whole number of 千円: null and a warning, never rounded
    ],
)
def test_amount_thousand_yen(text: str, expected: int | None) -> None:
    assert amount_thousand_yen(text) == expected


@pytest.mark.parametrize(
    "line,page_year,clean,budgets",
    [
        (
            "【主な具体的取組1-1-1 地域活動協議会の活動支援】(29年度予算額 22,268千円)",
            2017,
            "【主な具体的取組1-1-1 地域活動協議会の活動支援】",
            [("29年度予算額", 2017, 22_268, "(29年度予算額 22,268千円)", "budget")],
        ),
        (
            "【具体的取組1-1-2】 中学生海外派遣の推進 《5,237千円》",
            2020,
            "【具体的取組1-1-2】 中学生海外派遣の推進",
            [(None, None, 5_237, "《5,237千円》", "budget")],
        ),
        (
            "地域活動協議会による地域課題への対応・解決に向けた取組を支援する。(32,550千円)",
            2022,
            "地域活動協議会による地域課題への対応・解決に向けた取組を支援する。",
            [(None, None, 32_550, "(32,550千円)", "budget")],
        ),
        (
            "避難行動要支援者の避難支援の取組の促進を支援2,025千円)",
            2022,
            "避難行動要支援者の避難支援の取組の促進を支援",
            [(None, None, 2_025, "2,025千円)", "budget")],
        ),
        (
            "【主な具体的取組4-2-2 コンプライアンスの確保】(29年度予算額 - )",
            2017,
            "【主な具体的取組4-2-2 コンプライアンスの確保】",
            [("29年度予算額", 2017, None, "(29年度予算額 - )", "budget")],
        ),
        (
            "x】(29年度予算額 13,667千円)(29年度区CM予算額 13,738千円)",
            2017,
            "x】",
            [
                ("29年度予算額", 2017, 13_667, "(29年度予算額 13,667千円)", "budget"),
                ("29年度区CM予算額", 2017, 13_738, "(29年度区CM予算額 13,738千円)", "cm_budget"),
            ],
        ),
        (
            "【具体的取組1-2-2】 地域の見守り 〔25予算額 29,474 千円〕",
            2013,
            "【具体的取組1-2-2】 地域の見守り",
            [("25予算額", 2013, 29_474, "〔25予算額 29,474 千円〕", "budget")],
        ),
        (
            "【1-1-1 x】[予算額 263千円]",
            2014,
            "【1-1-1 x】",
            [("予算額", None, 263, "[予算額 263千円]", "budget")],
        ),
        (
            "【1-1-1 x】(31算定見込額 11,050千円)",
            2019,
            "【1-1-1 x】",
            [("31算定見込額", 2019, 11_050, "(31算定見込額 11,050千円)", "estimate")],
        ),
        (
            "【経営課題1】 まちづくり(7年度予算額65百万円)",
            2025,
            "【経営課題1】 まちづくり",
            [("7年度予算額", 2025, 65_000, "(7年度予算額65百万円)", "budget")],
        ),
        (
            "令和3年度決算額 6千9百万円 / 令和4年度予算額 5千3百万円",
            2023,
            "",
            [
                ("令和3年度決算額", 2021, 69_000, "令和3年度決算額 6千9百万円", "settled"),
                ("令和4年度予算額", 2022, 53_000, "令和4年度予算額 5千3百万円", "budget"),
            ],
        ),
        (
            "【主な具体的取組(4年度予算額) 地域活動の支援(77,800千円)】",
            2022,
            "【主な具体的取組 地域活動の支援 】",
            [("4年度予算額", 2022, 77_800, "(77,800千円)", "budget")],
        ),
    ],
)
def test_extract_budgets(
    line: str,
    page_year: int,
    clean: str,
    budgets: list[tuple[str | None, int | None, int | None, str, str]],
) -> None:
    found = extract_budgets(line, page_year)
    assert found.text.replace(" 】", "】") == clean.replace(" 】", "】")
    assert [
        (b.label, b.fiscal_year, b.amount_thousand_yen, b.raw, b.kind) for b in found.budgets
    ] == budgets


@pytest.mark.parametrize(
    "line",
    [
        "区の予算は約500万円です。",  # prose: no label, no brackets
        "(総額 1,000千円)",  # a bracket that is not only budget items
        "約9割がマンション世帯であること",
    ],
)
def test_prose_is_not_a_budget(line: str) -> None:
    assert not extract_budgets(line, 2022).budgets


def test_every_budget_form_example_yields_a_budget() -> None:
    for form in v.BUDGET_FORMS:
        assert form.pattern.search(form.example), form.name


def _budgets(line: str, year: int) -> list:
    return extract_budgets(line, year).budgets


def test_main_amount_is_own_year_budget_never_settled_or_cm() -> None:
    budgets = _budgets(
        "(令和3年度決算額 9,000千円)(4年度予算額 5,000千円)(4年度区CM予算額 1千円)", 2022
    )
    marked = choose_main(budgets, 2022, draft=False)
    assert [(b.label, b.is_main) for b in marked] == [
        ("令和3年度決算額", False),
        ("4年度予算額", True),
        ("4年度区CM予算額", False),
    ]


def test_main_amount_on_a_draft_is_the_estimate() -> None:
    budgets = _budgets("(30年度予算額 9,000千円)(31算定見込額 10,000千円)", 2019)
    marked = choose_main(budgets, 2019, draft=True)
    assert [b.amount_thousand_yen for b in marked if b.is_main] == [10_000]


def test_another_years_amount_is_never_main() -> None:
    marked = choose_main(_budgets("(28年度予算額 9,000千円)", 2017), 2017, draft=False)
    assert not any(b.is_main for b in marked)


# --- years, titles, codes -----------------------------------------------------------


@pytest.mark.parametrize(
    "title,year,label",
    [
        ("平成31年度北区運営方針", 2019, "平成31年度"),
        ("令和元年度(平成31年度)住吉区運営方針(素案)", 2019, "令和元年度"),
        ("2018年度(平成30年度)淀川区運営方針", 2018, "平成30年度"),
        ("令和4年度 生野区度運営方針", 2022, "令和4年度"),
        ("平成29度 西区運営方針", 2017, "平成29度"),
        ("平成25年度 北区運営方針(素案)", 2013, "平成25年度"),
        ("令和8年度港区運営方針(案)", 2026, "令和8年度"),
        ("2018年度 淀川区運営方針", 2018, "2018年度"),
    ],
)
def test_fiscal_year_from_title(title: str, year: int, label: str) -> None:
    assert fiscal_year_from_title(title)[:2] == (year, label)


def test_title_without_year_is_refused() -> None:
    with pytest.raises(NotAPolicyPageError):
        fiscal_year_from_title("北区運営方針")


@pytest.mark.parametrize("raw,code", [("1-1", "1-1"), ("1 - 2 - 3", "1-2-3"), ("01−02", "1-2")])
def test_normalize_code(raw: str, code: str) -> None:
    assert normalize_code(raw) == code


def test_full_width_is_folded_and_circled_numbers_kept() -> None:
    assert clean_line("（２９年度予算額　２２，２６８千円）") == "(29年度予算額 22,268千円)"
    assert clean_line("ページ番号：４６６８４３") == "ページ番号:466843"
    assert clean_line("①昔ながらの⽅針") == "①昔ながらの方針"


# --- headings, sections, markers ----------------------------------------------------

HEADING_EXPECTATIONS = {
    "【経営課題1】 安全安心なまちづくり": ("issue", "1", "安全安心なまちづくり"),
    "【経営課題1 地域福祉の推進】": ("issue", "1", "地域福祉の推進"),
    "経営課題1 地域コミュニティのさらなる活性化": (
        "issue",
        "1",
        "地域コミュニティのさらなる活性化",
    ),
    "経営課題1-(1)地域コミュニティの活性化": ("issue", "1", "地域コミュニティの活性化"),
    "【戦略1-1】 東住吉ゆめ応援プロジェクトの充実": (
        "strategy",
        "1-1",
        "東住吉ゆめ応援プロジェクトの充実",
    ),
    "【戦略1-1 地域防災】": ("strategy", "1-1", "地域防災"),
    "主な戦略【1-1 地域活動協議会の活動支援】": ("strategy", "1-1", "地域活動協議会の活動支援"),
    "【1-1 地域共生社会の実現】": ("strategy", "1-1", "地域共生社会の実現"),
    "【1-1】 地域防災力の向上": ("strategy", "1-1", "地域防災力の向上"),
    "戦略1-1 地域防災力の向上": ("strategy", "1-1", "地域防災力の向上"),
    "【主な具体的取組(4年度予算額) 地域活動の支援(77,800千円)】": (
        "initiative",
        None,
        "地域活動の支援",
    ),
}
MORE_HEADINGS = {
    "≪経営課題1≫ まちづくり": ("issue", "1", "まちづくり"),
    "【経営課題 1】 「安全なまち」": ("issue", "1", "安全なまち"),
    "【戦略1-1:防災】": ("strategy", "1-1", "防災"),
    "<1-2 見守り>": ("strategy", "1-2", "見守り"),
    "【主な戦略 1-2 地域活動協議会による自律的な地域運営の促進】": (
        "strategy",
        "1-2",
        "地域活動協議会による自律的な地域運営の促進",
    ),
    "【具体的取組1-2-2】 見守り活動": ("initiative", "1-2-2", "見守り活動"),
    "【主な具体的取組 1-2-2 地域課題解決に向けた取組の支援】": (
        "initiative",
        "1-2-2",
        "地域課題解決に向けた取組の支援",
    ),
    "【1-1-1 地域福祉力の向上】": ("initiative", "1-1-1", "地域福祉力の向上"),
    "具体的取組1-1-1 防災": ("initiative", "1-1-1", "防災"),
    "【4-1-3 区災害対策機能の強化(公助)】": ("initiative", "4-1-3", "区災害対策機能の強化(公助)"),
    # site-notes: the -(1) belongs to the number, not the title
    "経営課題2-(3) 子育て支援の充実": ("issue", "2", "子育て支援の充実"),
}


def test_every_heading_form_has_an_expectation() -> None:
    assert {form.example for form in v.HEADING_FORMS} == set(HEADING_EXPECTATIONS)


@pytest.mark.parametrize("form", v.HEADING_FORMS, ids=lambda f: f.name)
def test_heading_form_example_is_read_by_its_own_form(form: v.HeadingForm) -> None:
    text = extract_budgets(form.example, 2022).text
    heading = match_heading(text)
    assert heading is not None
    assert heading.form == form.name  # no earlier form shadows it
    assert (heading.kind, heading.code, heading.title) == HEADING_EXPECTATIONS[form.example]


@pytest.mark.parametrize("text,expected", MORE_HEADINGS.items())
def test_more_heading_variants(text: str, expected: tuple[str, str | None, str]) -> None:
    heading = match_heading(text)
    assert heading is not None
    assert (heading.kind, heading.code, heading.title) == expected


@pytest.mark.parametrize(
    "text",
    [
        "【経営課題の概要】",
        "【取組内容】",
        "経営課題の解決に向けて取り組む。",
        "1-1の取組を進める。",
    ],
)
def test_not_a_heading(text: str) -> None:
    assert match_heading(text) is None


@pytest.mark.parametrize("form", v.SECTION_FORMS, ids=lambda f: f"{f.name}:{f.example}")
def test_section_form_example(form: v.SectionForm) -> None:
    found = match_section(form.example)
    assert found is not None and found[0] == form.name


@pytest.mark.parametrize(
    "text,name",
    [
        ("区の目標(何をめざすのか)", "goal"),
        ("目標(何をめざすのか)", "goal"),
        ("<区の目標(何をめざすのか)>", "goal"),
        ("≪区・局の目標(何をめざすのか)≫", "goal"),
        ("【区の目標(何をめざすのか】", "goal"),
        ("使命(どのような役割を担うのか)", "mission"),
        ("平成29年度 区運営の基本的な考え方(区長の方針)", "basic_policy"),
        ("令和5年度 所属運営の基本的な考え方(区の方針)", "basic_policy"),
        ("2018年度 区運営の基本的な考え方(区長の方針)", "basic_policy"),
        (
            "区運営の基本的な考え方(何に重点的に取り組むのかなど、選択と集中の方針を示す)",
            "basic_policy",
        ),
        ("区の運営方針の基本的な考え方(区の方針)", "basic_policy"),
        ("1 重点的に取り組む主な経営課題", "issues"),
        ("重点的に取り組む主な経営課題(様式2より)", "issues"),
        ("重点的に取り組む経営課題", "issues"),
        ("2 「市政改革プラン3.1」に基づく取組等", "reforms"),
    ],
)
def test_section_variants(text: str, name: str) -> None:
    found = match_section(text)
    assert found is not None and found[0] == name


def test_goal_sentence_is_not_a_section() -> None:
    assert match_section("目標の達成に向けて取り組む。") is None


@pytest.mark.parametrize("form", v.MARKER_FORMS, ids=lambda f: f.name)
def test_marker_form_example(form: v.MarkerForm) -> None:
    found = match_marker(form.example)
    assert found is not None and found[0] == form.name


@pytest.mark.parametrize(
    "forms",
    [v.END_FORMS, v.SKIP_FORMS, v.NOTE_FORMS, v.REFORM_FORMS],
    ids=["end", "skip", "note", "reform"],
)
def test_line_form_examples_match(forms: tuple) -> None:
    for form in forms:
        assert form.pattern.search(form.example), form.name


# --- whole-page rules on small inline pages ------------------------------------------

HEAD = "令和4年度港区運営方針\n2022年4月1日\nページ番号:565017\n"


def page(body: str) -> str:
    return HEAD + "重点的に取り組む主な経営課題\n" + body


def test_initiative_without_its_strategy_goes_under_a_placeholder() -> None:
    policy = parse_page(page("経営課題1 まち\n【主な具体的取組 1-2-1 見守り】(1,000千円)\n"))
    strategy = policy.issues[0].strategies[0]
    assert (strategy.code, strategy.title) == ("1-2", None)
    assert strategy.initiatives[0].code == "1-2-1"
    assert any("1-2-1" in w and "placeholder" in w for w in policy.warnings)


def test_unnumbered_initiative_goes_under_nearest_preceding_strategy() -> None:
    policy = parse_page(
        page(
            "経営課題1 まち\n【主な戦略 1-1 防災】\n【主な戦略 1-2 防犯】\n"
            "【主な具体的取組(4年度予算額) 地域活動の支援(77,800千円)】\n"
        )
    )
    strategies = policy.issues[0].strategies
    assert [s.code for s in strategies] == ["1-1", "1-2"]
    initiative = strategies[1].initiatives[0]
    assert (initiative.code, initiative.title, initiative.budget_thousand_yen) == (
        None,
        "地域活動の支援",
        77_800,
    )


def test_unnumbered_initiative_with_no_strategy_gets_a_placeholder() -> None:
    policy = parse_page(page("経営課題1 まち\n【主な具体的取組 地域活動の支援】(5千円)\n"))
    strategy = policy.issues[0].strategies[0]
    assert (strategy.code, strategy.title) == (None, None)
    assert strategy.initiatives[0].budget_thousand_yen == 5
    assert policy.warnings


def test_strategy_without_its_issue_goes_under_a_placeholder_issue() -> None:
    policy = parse_page(page("経営課題1 まち\n【主な戦略 2-1 防災】\n"))
    assert [(i.code, i.title) for i in policy.issues] == [("1", "まち"), ("2", None)]
    assert policy.issues[1].strategies[0].code == "2-1"


def test_codes_put_in_order_whatever_the_page_order() -> None:
    policy = parse_page(page("経営課題2 b\n戦略2-1 y\n経営課題1 a\n戦略1-2 x2\n戦略1-1 x1\n"))
    assert [i.code for i in policy.issues] == ["1", "2"]
    assert [(s.code, s.position) for s in policy.issues[0].strategies] == [("1-1", 1), ("1-2", 2)]


def test_unnumbered_strategy_bullets_of_reiwa5_pages() -> None:
    policy = parse_page(
        "令和5年度港区運営方針\n重点的に取り組む経営課題\n"
        "【経営課題1】 まち(5年度予算額65百万円)\n課題認識\n課題がある。\n"
        "主な戦略(課題解決の方策)\n・防災を進める\n・防犯を進める\n"
        "【経営課題2】 ひと\n主な戦略\n・学びを支える\n"
    )
    issue1, issue2 = policy.issues
    assert issue1.budget_thousand_yen == 65_000
    assert issue1.description == "課題がある。"
    assert [(s.code, s.position, s.title) for s in issue1.strategies] == [
        (None, 1, "防災を進める"),
        (None, 2, "防犯を進める"),
    ]
    assert [s.title for s in issue2.strategies] == ["学びを支える"]
    assert total_budget(policy) == 65_000


def test_amount_on_issue_counts_only_without_amounts_below() -> None:
    policy = parse_page(
        page("経営課題1 a(4年度予算額 100千円)\n戦略1-1 x\n【1-1-1 y】(予算額 40千円)\n")
    )
    assert policy.issues[0].budget_thousand_yen == 100
    assert total_budget(policy) == 40


def test_sdgs_tags_go_to_the_issue_not_the_description() -> None:
    policy = parse_page(page("経営課題1 a\n関連するSDGs 11 17\n説明。\n"))
    assert policy.issues[0].sdgs == [11, 17]
    assert policy.issues[0].description == "説明。"


def test_unrecognised_numbered_heading_is_reported() -> None:
    policy = parse_page(page("経営課題1 a\n戦略1 防災を進める\n"))
    assert any("not recognised" in w for w in policy.warnings)


# --- error paths ----------------------------------------------------------------------


def test_empty_input() -> None:
    with pytest.raises(EmptyInputError):
        parse_page(b"  \n ")


def test_undecodable_input() -> None:
    with pytest.raises(UndecodableInputError):
        parse_page(bytes(range(256)) * 50)


def test_stray_invalid_byte_costs_a_warning_not_the_page() -> None:
    data = (
        b'<html><head><meta charset="utf-8"></head><body><h1>'
        + "令和4年度港区運営方針".encode()
        + b"</h1><p>\xff</p></body></html>"
    )
    policy = parse_page(data)
    assert policy.ward == "港区"
    assert any("invalid byte" in w for w in policy.warnings)


def test_shift_jis_without_http_charset_is_detected() -> None:
    html = "<html><body><h1>平成30年度淀川区運営方針</h1><p>区の目標</p><p>まち</p></body></html>"
    policy = parse_page(html.encode("cp932"))
    assert (policy.ward, policy.goal) == ("淀川区", "まち")


def test_http_charset_wins_over_guessing() -> None:
    text, _ = decode("平成30年度".encode("euc-jp"), http_charset="EUC-JP")
    assert text == "平成30年度"


def test_unrelated_page_is_refused() -> None:
    with pytest.raises(NotAPolicyPageError):
        parse_page("<html><body><h1>区民まつりのお知らせ</h1><p>開催します</p></body></html>")


def test_bureau_page_is_refused() -> None:
    with pytest.raises(NotAWardPageError):
        parse_page("令和4年度市民局運営方針\n【区・局の目標(何をめざすのか)】\nまち\n")


def test_ward_wording_inside_does_not_make_a_bureau_page() -> None:
    policy = parse_page("令和4年度北区運営方針\n【区・局の目標(何をめざすのか)】\nまち\n")
    assert (policy.ward, policy.goal) == ("北区", "まち")


def test_truncated_capture_yields_what_it_holds() -> None:
    from .conftest import FIXTURES

    text = (FIXTURES / "seeds" / "000_9271bec5154d5aa3.txt").read_text(encoding="utf-8")
    policy = parse_page(text[:1000])
    assert policy.ward == "北区"
    assert policy.goal is not None


def test_capture_bullets() -> None:
    lines = text_lines("  • a\n・b\n- c\n  1. d\n1. e\n")
    assert [(line.text, line.bullet) for line in lines] == [
        ("a", True),
        ("b", True),
        ("c", True),
        ("d", True),
        ("1. e", False),
    ]


def test_an_empty_line_is_neither_text_nor_a_node() -> None:
    """build_policy takes lines from any caller: an empty one after 主な戦略 (where plain
    lines become strategies) starts no strategy, and one in a node's text is not kept."""
    lines = [
        Line("令和5年度北区運営方針"),
        Line("重点的に取り組む経営課題"),
        Line("経営課題1 安全安心"),
        Line(""),
        Line("災害に備える。"),
        Line("主な戦略(課題解決の方策)"),
        Line(""),
        Line("地域防災力の向上"),
        Line(""),
        Line("見守りの充実"),
    ]
    policy = build_policy(lines, url=None, source_format="text", source_sha256="0" * 64)
    [issue] = policy.issues
    assert issue.description == "災害に備える。"
    assert [strategy.title for strategy in issue.strategies] == ["地域防災力の向上", "見守りの充実"]


# --- SDGs lines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "goals"),
    [
        ("関連するSDGs 11住み続けられるまちづくりを", [11]),
        ("関連するSDGs 3 11", [3, 11]),
        ("主なSDGsゴール 3、11", [3, 11]),
        ("関連するSDGs 3すべての人に健康と福祉を 11住み続けられるまちづくりを", [3, 11]),
        ("主なSDGsゴール", []),
    ],
)
def test_sdgs_marker_reads_the_goals(text: str, goals: list[int]) -> None:
    found = match_marker(text)
    assert found is not None and found[0] == "sdgs"
    assert sdg_goal_numbers(found[1].group("goals")) == goals


@pytest.mark.parametrize("form", v.SDG_GOAL_FORMS, ids=lambda f: f.name)
def test_sdg_goal_form_example_reads(form: v.Form) -> None:
    assert form.pattern.match(form.example)
    assert sdg_goals_of_line(form.example)


@pytest.mark.parametrize(
    ("text", "goals"),
    [
        ("目標1", [1]),
        ("目標 13", [13]),
        ("目標3 すべての人に健康と福祉を", [3]),
        ("1 貧困をなくそう", [1]),
        ("7 エネルギーをみんなに そしてクリーンに", [7]),
        ("3、11", [3, 11]),
        ("1 重点的に見守りを進める", []),  # a numbered line, but no goal's name
        ("3 貧困をなくそう", []),  # the name of another goal
        ("目標18", []),
        ("SDGsを意識した区政運営", []),
    ],
)
def test_sdg_goal_lines(text: str, goals: list[int]) -> None:
    assert sdg_goals_of_line(text) == goals


def test_sdg_goal_names_are_the_seventeen() -> None:
    assert sorted(v.SDG_GOALS) == list(range(1, 18))
