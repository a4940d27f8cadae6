"""The acceptance figures of the parser issue, and the hand-written expectations of every
fixture (`{name}.expect.json`, written from reading the page, not from the parser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osaka_unei.models import WardPolicy, total_budget
from osaka_unei.parse import PageError, parse_page

from .conftest import FIXTURES

SEEDS = FIXTURES / "seeds"


def all_initiatives(policy: WardPolicy) -> list[tuple[str | None, str | None, int | None]]:
    return [
        (initiative.code, initiative.title, initiative.budget_thousand_yen)
        for issue in policy.issues
        for strategy in issue.strategies
        for initiative in strategy.initiatives
    ]


@pytest.mark.parametrize(
    "name,issues,initiatives,total",
    [
        ("003_89797b12dbd6aaef.txt", 6, 10, 65_958),  # 港区 R4
        ("001_e7afe2fe71ccfc94.txt", 4, 6, 58_693),  # 西区 H29
        ("002_e3f0c9fdb4967de5.txt", 5, 8, 135_783),  # 東住吉区 R2
        ("004_e6c957a5f6c36d5e.txt", 5, 5, 68_388),  # 鶴見区 R4
        ("000_9271bec5154d5aa3.txt", 3, 4, 0),  # 北区 H31: no budgets
    ],
)
def test_seed_figures(name: str, issues: int, initiatives: int, total: int) -> None:
    for page in (SEEDS / name, FIXTURES / "pages" / name.replace(".txt", ".html")):
        policy = parse_page(page)
        assert len(policy.issues) == issues
        assert len(all_initiatives(policy)) == initiatives
        assert (total_budget(policy) or 0) == total
        assert policy.warnings == []


def test_minato_codes_and_titles() -> None:
    policy = parse_page(SEEDS / "003_89797b12dbd6aaef.txt")
    assert all_initiatives(policy) == [
        ("1-2-2", "地域課題解決に向けた取組の支援", 32_550),
        ("2-1-1", "地域防災の活動支援", 2_025),
        ("2-2-1", "地域防犯・安全対策", 1_568),
        ("3-1-2", "高齢者等要援護者見守り支援", 14_955),
        ("3-3-4", "児童虐待未然防止・早期発見機能の強化・DV被害者の支援", 4_960),
        ("4-1-1", "子どもの学力・体力の向上", 515),
        ("4-2-1", "子育て支援機関との連携強化・子育て支援情報の充実", 1_267),
        ("5-1-1", "産業振興・次世代人材育成支援", 1_632),
        ("5-2-1", "港区エリア別活性化プランの推進", 6_004),
        ("6-1-3", "区民の参画と協働による区政運営", 482),
    ]
    # Strategies 2-1 and 2-2 come before both initiatives on the page: numbers decide.
    issue2 = policy.issues[1]
    assert [(s.code, [i.code for i in s.initiatives]) for s in issue2.strategies] == [
        ("2-1", ["2-1-1"]),
        ("2-2", ["2-2-1"]),
    ]
    missing_open = issue2.strategies[0].initiatives[0]
    assert missing_open.description is not None
    assert missing_open.description.endswith("避難支援の取組の促進を支援")
    assert missing_open.budgets[0].raw == "2,025千円)"


BOILERPLATE = (
    "ページの先頭",
    "メニューの終端",
    "Facebookでシェア",
    "Adobe",
    "PDF",
    "探している情報",
    "問合せ先",
    "策定経過",
    "過去の",
    "ファックス",
    "千円",
    "【",
    "》",
)


def _all_text(policy: WardPolicy) -> list[str]:
    texts = [policy.goal, policy.mission, policy.basic_policy, *policy.notes]
    for issue in policy.issues:
        texts += [issue.title, issue.description]
        for strategy in issue.strategies:
            texts += [strategy.title, strategy.description]
            for initiative in strategy.initiatives:
                texts += [initiative.title, initiative.description]
    for reform in policy.reforms:
        texts += [reform.title, *reform.contents]
    return [text for text in texts if text]


@pytest.mark.parametrize("page", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name)
def test_no_boilerplate_in_any_field(page: Path) -> None:
    for text in _all_text(parse_page(page)):
        for word in BOILERPLATE:
            assert word not in text, (word, text)


EXPECTATIONS = sorted((FIXTURES / "pages").glob("*.expect.json"))


def _facts(policy: WardPolicy) -> dict[str, object]:
    strategies = [s for issue in policy.issues for s in issue.strategies]
    initiatives = [i for s in strategies for i in s.initiatives]
    mains: dict[str, int | None] = {}

    def has_main(node: object) -> bool:
        return any(b.is_main for b in node.budgets)  # type: ignore[attr-defined]

    # Keys as in tests/fixtures/pages/README.md: "1-1-1", "issue:N", "strategy:N-M", and
    # "{strategy|initiative}#k" (k = 1-based position in the page's list) for unnumbered.
    for issue in policy.issues:
        if has_main(issue):
            mains[f"issue:{issue.code}"] = issue.budget_thousand_yen
    for k, strategy in enumerate(strategies, start=1):
        if has_main(strategy):
            key = f"strategy:{strategy.code}" if strategy.code else f"strategy#{k}"
            mains[key] = strategy.budget_thousand_yen
    for k, initiative in enumerate(initiatives, start=1):
        if has_main(initiative):
            mains[initiative.code or f"initiative#{k}"] = initiative.budget_thousand_yen
    return {
        "ward": policy.ward,
        "ward_slug": policy.ward_slug,
        "fiscal_year": policy.fiscal_year,
        "fiscal_year_label": policy.fiscal_year_label,
        "draft": policy.draft,
        "published": policy.published.isoformat() if policy.published else None,
        "page_id": policy.page_id,
        "n_issues": len(policy.issues),
        "n_strategies": len(strategies),
        "n_initiatives": len(initiatives),
        "issue_codes": [issue.code for issue in policy.issues],
        "issue_titles": [issue.title for issue in policy.issues],
        "strategy_codes": [s.code for s in strategies],
        "initiative_codes": [i.code for i in initiatives],
        "main_budgets_thousand_yen": mains,
        "total_main_thousand_yen": total_budget(policy) or 0,
        "sdgs": _sdgs(policy, strategies, initiatives),
    }


def _sdgs(policy: WardPolicy, strategies: list, initiatives: list) -> dict[str, list[int]]:
    """SDGs goals by node, keyed like main_budgets_thousand_yen with the level named."""
    found: dict[str, list[int]] = {}
    for level, nodes in (
        ("issue", policy.issues),
        ("strategy", strategies),
        ("initiative", initiatives),
    ):
        for k, node in enumerate(nodes, start=1):
            if node.sdg_goals:
                found[f"{level}:{node.code}" if node.code else f"{level}#{k}"] = [
                    goal.goal for goal in node.sdg_goals
                ]
    return found


def _page_for(expect_file: Path) -> Path:
    stem = expect_file.name.removesuffix(".expect.json")
    pages = [p for p in expect_file.parent.glob(f"{stem}.*") if p.suffix in (".html", ".txt")]
    assert len(pages) == 1, f"no single page for {expect_file.name}: {pages}"
    return pages[0]


@pytest.mark.parametrize("expect_file", EXPECTATIONS, ids=lambda p: p.name)
def test_hand_written_expectations(expect_file: Path) -> None:
    expected = json.loads(expect_file.read_text(encoding="utf-8"))
    page = _page_for(expect_file)
    if expected.get("error"):
        with pytest.raises(PageError):
            parse_page(page)
        return
    facts = _facts(parse_page(page))
    for key, value in expected.items():
        if key not in facts:
            continue
        if key == "total_main_thousand_yen" and value is None:
            value = 0
        assert facts[key] == value, key


def test_every_page_fixture_has_expectations() -> None:
    pages = [p for p in (FIXTURES / "pages").glob("*") if p.suffix in (".html", ".txt")]
    stems = {p.name.removesuffix(".expect.json") for p in EXPECTATIONS}
    assert {p.stem for p in pages} <= stems
