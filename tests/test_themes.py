"""Themes: the codebook, tagging rules, SDGs, overrides and budget by theme.

Expected values are read off the seed pages by hand (titles and 千円 amounts), not produced
by running the code."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from osaka_unei.analysis import themes as th
from osaka_unei.dataset.flatten import Source, flatten, make_tables
from osaka_unei.dataset.load import load
from osaka_unei.dataset.nodes import nodes_frame
from osaka_unei.errors import CheckError
from osaka_unei.parse import parse_page

FIXTURES = Path(__file__).parent / "fixtures"
PROCESSED = Path(__file__).parent.parent / "data" / "processed"
SOURCE = Source(None, "capture", "0" * 64, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))

KEYWORD_CASES = [
    pytest.param(theme.id, keyword, id=f"{theme.id}-{keyword.word}")
    for theme in th.CODEBOOK
    for keyword in theme.keywords
]
REAL_CASES = [case for case in KEYWORD_CASES if case.values[1].source != "invented"]


def tagged(frame: pd.DataFrame, policy: str, level: str, code: str) -> dict[tuple[str, str], str]:
    """(theme, source) → evidence of one node, found by its code."""
    rows = frame[(frame.policy_id == policy) & (frame.level == level) & (frame.code == code)]
    return {(r.theme, r.source): r.evidence for r in rows.itertuples()}


@pytest.fixture(scope="module")
def seed_tables() -> dict[str, pd.DataFrame]:
    policies = [parse_page(path) for path in sorted((FIXTURES / "seeds").glob("*.txt"))]
    return make_tables([flatten(policy, SOURCE) for policy in policies], [])


@pytest.fixture(scope="module")
def seed_themes(seed_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return th.tag_nodes(seed_tables)


# --- codebook ----------------------------------------------------------------------------


def test_codebook_is_valid() -> None:
    ids = [theme.id for theme in th.CODEBOOK]
    assert len(ids) == len(set(ids))
    assert {
        "children",
        "safety",
        "welfare",
        "community",
        "vitality",
        "environment",
        "services",
        "inclusion",
    } <= set(ids)
    for theme in th.CODEBOOK:
        assert theme.keywords, theme.id
        assert all(1 <= goal <= 17 for goal in theme.sdgs), theme.id
        assert theme.name_ja and theme.name_en
    assert th.THEMES.columns[[c.name for c in th.THEMES.columns].index("theme")].enum == tuple(ids)


@pytest.mark.parametrize(("theme_id", "keyword"), KEYWORD_CASES)
def test_keyword_example_tags_its_theme(theme_id: str, keyword: th.Keyword) -> None:
    assert keyword.word in th.match_themes(keyword.example).get(theme_id, [])


@pytest.mark.parametrize(("theme_id", "keyword"), REAL_CASES)
def test_real_example_is_printed_in_its_page(theme_id: str, keyword: th.Keyword) -> None:
    text = unicodedata.normalize("NFKC", (FIXTURES / keyword.source).read_text("utf-8"))
    assert keyword.example in text.replace("&nbsp;", " ")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[themes]]\nid="a"\nname_ja="x"\nname_en="x"\nsdgs=[]\nkeywords=[]\n',
            "theme a has no keywords",
        ),
        (
            '[[themes]]\nid="a"\nname_ja="x"\nname_en="x"\nsdgs=[18]\n'
            'keywords=[{word="w", example="w", from="invented"}]\n',
            "SDGs goals must be 1-17, got [18]",
        ),
        (
            '[[themes]]\nid="a"\nname_ja="x"\nname_en="x"\nsdgs=[]\n'
            'keywords=[{word="w", example="w", from="invented"}]\n' * 2,
            "duplicate theme ids ['a']",
        ),
        ('[[themes]]\nid="a"\nname_ja="x"\n', "theme a: missing or bad field 'name_en'"),
    ],
)
def test_bad_codebook_is_refused(toml: str, message: str) -> None:
    with pytest.raises(th.CodebookError, match=message.replace("[", r"\[").replace("]", r"\]")):
        th.parse_codebook(toml)


@pytest.mark.parametrize(
    ("title", "themes"),
    [
        # exclude lists: the keyword is inside a phrase that means something else
        ("子どもが健やかに育つまち", {"children"}),  # 健やか, but not health care
        ("コミュニティソーシャルワーカー(CSW)の配置", set()),
        ("多文化共生の推進", {"inclusion"}),  # 文化, but not culture as vitality
        ("男女共同参画の推進", {"inclusion"}),  # 参画, but not participation in 区政
        ("緑橋駅周辺の自転車対策", {"safety"}),  # 緑 in a place name
        ("緑地域活動協議会への支援", {"community"}),
        ("花と緑のまちづくり", {"environment"}),
        ("DVD貸出事業", set()),
        ("ＤＶ被害者の支援", {"inclusion"}),  # full-width, matched after NFKC
        ("子育て環境・教育環境の充実", {"children"}),  # bare 環境 is no keyword
    ],
)
def test_excludes_and_short_keywords(title: str, themes: set[str]) -> None:
    assert set(th.match_themes(title)) == themes


def test_codebook_frame() -> None:
    frame = th.codebook_frame()
    assert list(frame.columns) == th.THEME_CODEBOOK.names
    assert len(frame) == len(th.CODEBOOK)
    children = frame.set_index("theme").loc["children"]
    assert children["name_ja"] == "子育て・教育・青少年"
    assert children["keywords"].startswith("子育て、子ども、")
    assert children["sdgs"] == "4"
    assert pd.isna(frame.set_index("theme").loc["safety", "sdgs"])


# --- tagging real seed titles ------------------------------------------------------------


def test_seed_titles_hand_checked(seed_themes: pd.DataFrame) -> None:
    # 港区 R4 3-3-4 「児童虐待未然防止・早期発見機能の強化・DV被害者の支援」
    assert tagged(seed_themes, "minato-2022", "initiative", "3-3-4") == {
        ("children", "keywords"): "児童",
        ("welfare", "keywords"): "虐待",
        ("inclusion", "keywords"): "DV",
    }
    # 北区 H31 2-1-1: CSW is excluded, 「福祉コミュニティづくり」 still is community
    assert tagged(seed_themes, "kita-2019", "initiative", "2-1-1") == {
        ("welfare", "keywords"): "福祉",
        ("community", "keywords"): "コミュニティ",
    }
    # 港区 R4 6-1-3 「区民の参画と協働による区政運営」
    assert tagged(seed_themes, "minato-2022", "initiative", "6-1-3") == {
        ("community", "keywords"): "協働",
        ("services", "keywords"): "区政,参画",
    }
    # 鶴見区 R4 3-1 「まなびを通じたつながりづくり」
    assert tagged(seed_themes, "tsurumi-2022", "strategy", "3-1") == {
        ("children", "keywords"): "まなび",
        ("community", "keywords"): "つながり",
    }
    # 西区 H29 issue 2 「安全・安心で快適なまちづくり」: its own title wins over its children
    assert tagged(seed_themes, "nishi-2017", "issue", "2") == {("safety", "keywords"): "安全"}


def test_seed_titles_inherit(seed_themes: pd.DataFrame) -> None:
    # 東住吉区 R2 戦略1-1 「東住吉ゆめ応援プロジェクトの充実」 ← 1-1-2 「中学生海外派遣の推進」
    assert tagged(seed_themes, "higashisumiyoshi-2020", "strategy", "1-1") == {
        ("children", "keywords"): "child:1-1-2"
    }
    # 東住吉区 R2 経営課題2 「誰もが安心して心豊かに暮らせるまちづくりの推進」
    assert tagged(seed_themes, "higashisumiyoshi-2020", "issue", "2") == {
        ("safety", "keywords"): "child:2-1",
        ("welfare", "keywords"): "child:2-4",
    }
    # 西区 H29 戦略2-4 「誰もが自分らしくいきいきと暮らせるまちづくり」 ← 「…見守り活動の支援」
    assert tagged(seed_themes, "nishi-2017", "strategy", "2-4") == {
        ("welfare", "keywords"): "child:2-4-2"
    }
    # 鶴見区 R4 経営課題1 「だれもが地域で安心して暮らせるまちづくり」 ← 「地域共生社会の実現」
    assert tagged(seed_themes, "tsurumi-2022", "issue", "1") == {
        ("welfare", "keywords"): "child:1-1"
    }


def test_seed_coverage(seed_tables: dict[str, pd.DataFrame], seed_themes: pd.DataFrame) -> None:
    nodes = nodes_frame(seed_tables)
    tagged = nodes.set_index(["policy_id", "node_key"]).index.isin(
        seed_themes.set_index(["policy_id", "node_key"]).index
    )
    # 23 issues, 33 strategies, 33 initiatives on the five seed pages, every one tagged
    assert nodes["level"].value_counts().to_dict() == {
        "issue": 23,
        "strategy": 33,
        "initiative": 33,
    }
    assert tagged.all(), nodes.loc[~tagged, ["policy_id", "code", "title"]]
    # no seed node needed its description
    assert not seed_themes["evidence"].str.contains("description:").any()


def test_themes_frame_matches_spec(seed_themes: pd.DataFrame) -> None:
    assert list(seed_themes.columns) == th.THEMES.names
    assert not seed_themes.duplicated(list(th.THEMES.key)).any()
    assert set(seed_themes["source"]) == {"keywords"}
    strategies = seed_themes[seed_themes.level == "strategy"]
    assert strategies["strategy_position"].isna().all() and strategies["position"].notna().all()


# --- rules on hand-made tables -----------------------------------------------------------


def make_tables_from(
    nodes: list[tuple[str, str | None, str | None, int | None]],
    policy: str = "x-2020",
    ward: str = "X区",
    year: int = 2020,
) -> dict[str, pd.DataFrame]:
    """(code, title, description, amount) rows; the code's depth gives the level."""
    issues, strategies, initiatives = [], [], []
    base = {"policy_id": policy, "ward": ward, "fiscal_year": year}
    for code, title, description, amount in nodes:
        parts = [int(p) for p in code.split("-")]
        common = base | {"title": title, "description": description}
        common |= {"budget_thousand_yen": amount, "issue_position": parts[0]}
        if len(parts) == 1:
            issues.append(common | {"issue_code": code})
        elif len(parts) == 2:
            strategies.append(
                common | {"issue_code": str(parts[0]), "strategy_code": code, "position": parts[1]}
            )
        else:
            initiatives.append(
                common
                | {
                    "issue_code": str(parts[0]),
                    "strategy_code": f"{parts[0]}-{parts[1]}",
                    "initiative_code": code,
                    "strategy_position": parts[1],
                    "position": parts[2],
                }
            )
    policies = pd.DataFrame([base | {"total_budget_thousand_yen": None}])
    return {
        "policies": policies,
        "issues": pd.DataFrame(issues),
        "strategies": pd.DataFrame(strategies),
        "initiatives": pd.DataFrame(initiatives),
    }


def merge_tables(*parts: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}


HAND = [
    ("1", "まちの取組", None, None),
    ("1-1", "みんなの暮らし", None, None),
    ("1-1-1", "避難訓練の実施", None, 10),
    ("1-1-2", "高齢者の見守り", None, 15),
    ("1-2", "防犯と子育て", None, 30),
    ("1-2-1", "防犯カメラの設置", None, None),
    ("2", "区政運営", None, 50),
    ("2-1", "広報紙の発行", None, None),
    ("3", "その他", "説明にも何もない", None),
    ("3-1", "その他の戦略", "公園の清掃を行う", None),
    ("3-1-1", "未分類の取組", "ごみの減量を進める", 7),
    ("3-1-2", "別の取組", None, None),
]


def test_inheritance_and_description_fallback() -> None:
    themes = th.tag_nodes(make_tables_from(HAND))
    assert tagged(themes, "x-2020", "strategy", "1-1") == {
        ("safety", "keywords"): "child:1-1-1",
        ("welfare", "keywords"): "child:1-1-2",
    }
    # the issue inherits from its strategies, including what 1-1 inherited
    assert tagged(themes, "x-2020", "issue", "1") == {
        ("safety", "keywords"): "child:1-1,child:1-2",
        ("welfare", "keywords"): "child:1-1",
        ("children", "keywords"): "child:1-2",
    }
    # an initiative without keywords in its title is read in its description
    assert tagged(themes, "x-2020", "initiative", "3-1-1") == {
        ("environment", "keywords"): "description:ごみ"
    }
    # a strategy prefers its children to its own description (公園, 清掃 not used)
    assert tagged(themes, "x-2020", "strategy", "3-1") == {
        ("environment", "keywords"): "child:3-1-1"
    }
    assert tagged(themes, "x-2020", "initiative", "3-1-2") == {}


def test_placeholder_strategy_inherits() -> None:
    tables = make_tables_from([("1", None, None, None), ("1-1", None, None, None)])
    tables = merge_tables(tables, make_tables_from([("1-1-1", "防災訓練", None, 5)]))
    tables["strategies"].loc[0, "strategy_code"] = None
    themes = th.tag_nodes(tables)
    assert tagged(themes, "x-2020", "issue", "1") == {("safety", "keywords"): "child:strategy#1"}


# --- SDGs --------------------------------------------------------------------------------


def test_sdgs_from_parsed_pages() -> None:
    policies = [parse_page(FIXTURES / "pages" / f) for f in ("r5_minato.html", "r8_draft.html")]
    sdgs = make_tables([flatten(p, SOURCE) for p in policies], [])["sdgs"]
    # r5_minato: 主なSDGsゴール 3、11 on issue 2; r8_draft: 3 11 on issue 1, 11 13 on issue 2
    assert sorted(zip(sdgs.policy_id, sdgs.issue_position, sdgs.goal, strict=True)) == [
        ("joto-2026", 1, 3),
        ("joto-2026", 1, 11),
        ("joto-2026", 2, 11),
        ("joto-2026", 2, 13),
        ("minato-2023", 2, 3),
        ("minato-2023", 2, 11),
    ]
    tables = make_tables([flatten(p, SOURCE) for p in policies], [])
    themes = th.build_themes(tables, tables["sdgs"], overrides_path=None)
    # goal 3 → welfare next to the keyword row; 11 and 13 imply nothing
    assert tagged(themes, "joto-2026", "issue", "1") == {
        ("welfare", "keywords"): "child:strategy#1,child:strategy#2",
        ("welfare", "sdgs"): "3",
    }
    assert tagged(themes, "joto-2026", "issue", "2") == {("safety", "keywords"): "災害"}
    assert tagged(themes, "minato-2023", "issue", "2") == {
        ("welfare", "keywords"): "健やか",
        ("welfare", "sdgs"): "3",
    }


def test_sdgs_goals_map_to_themes() -> None:
    sdgs = pd.DataFrame(
        [
            {"policy_id": "x-2020", "level": "issue", "issue_position": 1, "goal": 4},
            {"policy_id": "x-2020", "level": "issue", "issue_position": 1, "goal": 5},
            {"policy_id": "x-2020", "level": "issue", "issue_position": 1, "goal": 10},
            {"policy_id": "x-2020", "level": "issue", "issue_position": 1, "goal": 11},
        ]
    )
    rows = th.sdgs_themes(sdgs)
    assert list(zip(rows.theme, rows.evidence, strict=True)) == [
        ("children", "4"),
        ("inclusion", "5,10"),
    ]
    with pytest.raises(CheckError, match="goal 18 is not 1-17"):
        th.sdgs_themes(sdgs.assign(goal=18))


# --- manual overrides --------------------------------------------------------------------

HEADER = "policy_id,level,issue_position,strategy_position,position,code,theme,reason\n"


def test_overrides_add_and_remove(tmp_path: Path) -> None:
    tables = make_tables_from(HAND)
    path = tmp_path / "theme-overrides.csv"
    path.write_text(
        HEADER + "x-2020,initiative,3,1,2,3-1-2,inclusion,人権研修の事業\n"
        "x-2020,strategy,1,,2,1-2,-children,子育ての語は見出しの飾り\n",
        encoding="utf-8",
    )
    themes = th.build_themes(tables, overrides_path=path)
    assert tagged(themes, "x-2020", "initiative", "3-1-2") == {
        ("inclusion", "manual"): "人権研修の事業"
    }
    # the manual tag is passed up to the untitled strategy next to the keyword one
    assert tagged(themes, "x-2020", "strategy", "3-1") == {
        ("environment", "keywords"): "child:3-1-1",
        ("inclusion", "manual"): "child:3-1-2",
    }
    assert tagged(themes, "x-2020", "strategy", "1-2") == {("safety", "keywords"): "防犯"}
    assert th.read_overrides(tmp_path / "absent.csv", tables) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x-2020,issue,1,,,1,saftey,typo", "line 2: unknown theme 'saftey' (known: children"),
        ("x-2020,issue,1,,,1,safety,", "line 2: a reason is required"),
        ("x-2020,issue,9,,,,safety,r", "line 2: no issue at x-2020 (9, None, None)"),
        ("x-2020,branch,1,,,,safety,r", "line 2: level must be one of issue, strategy"),
        ("x-2020,issue,one,,,,safety,r", "line 2: positions must be whole numbers"),
        ("x-2020,issue,1,,,7,safety,r", "line 2: code '7' but the node's is '1'"),
    ],
)
def test_overrides_are_validated(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "theme-overrides.csv"
    path.write_text(HEADER + line + "\n", encoding="utf-8")
    with pytest.raises(th.OverrideError) as error:
        th.read_overrides(path, make_tables_from(HAND))
    assert message in str(error.value)


def test_overrides_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "theme-overrides.csv"
    path.write_text("policy_id,level,theme\nx-2020,issue,safety\n", encoding="utf-8")
    with pytest.raises(th.OverrideError, match="missing column"):
        th.read_overrides(path, make_tables_from(HAND))


# --- budget by theme ---------------------------------------------------------------------


def budget(frame: pd.DataFrame) -> dict[tuple[Any, ...], Any]:
    return {
        (r.ward, r.fiscal_year, r.theme): r.budget_thousand_yen
        for r in frame.itertuples(index=False)
    }


def test_budget_by_theme_hand_made() -> None:
    tables = merge_tables(
        make_tables_from(HAND),
        make_tables_from(
            [("1", "子育て支援", None, 0), ("2", "防災", None, None)], "y-2021", "Y区", 2021
        ),
    )
    themes = th.tag_nodes(tables)
    # counted once: 1-1-1 10 (safety), 1-1-2 15 (welfare), strategy 1-2 30 (its initiative
    # has none; safety + children), issue 2 50 (services; 2-1 has none), 3-1-1 7 (environment
    # via its description); 1-1 has no amount, issue 1 none. Y区: issue 1 0 (children).
    assert budget(th.budget_by_theme(tables, themes)) == {
        ("X区", 2020, "children"): 30,
        ("X区", 2020, "safety"): 40,
        ("X区", 2020, "welfare"): 15,
        ("X区", 2020, "environment"): 7,
        ("X区", 2020, "services"): 50,
        ("Y区", 2021, "children"): 0,
    }
    split = budget(th.budget_by_theme(tables, themes, split=True))
    assert split[("X区", 2020, "safety")] == 25.0 and split[("X区", 2020, "children")] == 15.0
    assert sum(v for k, v in split.items() if k[0] == "X区") == 10 + 15 + 30 + 50 + 7


def test_budget_parent_amount_counts_only_without_children_amounts() -> None:
    nodes = [
        ("1", "防災", None, 100),
        ("1-1", "地域防災", None, 40),
        ("1-1-1", "避難訓練", None, 10),
        ("1-2", "防犯", None, 20),
        ("2", "高齢者の見守り", None, 8),
        ("2-1", "認知症の支援", None, None),
    ]
    tables = make_tables_from(nodes)
    # issue 1's 100 and strategy 1-1's 40 are carried below: 10 + 20 count; issue 2 counts
    assert budget(th.budget_by_theme(tables, th.tag_nodes(tables))) == {
        ("X区", 2020, "safety"): 30,
        ("X区", 2020, "welfare"): 8,
    }
    # an untagged amount is kept as "untagged"
    tables["issues"].loc[1, "title"] = "その他"
    tables["strategies"].loc[2, "title"] = "その他"
    assert budget(th.budget_by_theme(tables, th.tag_nodes(tables)))[("X区", 2020, "untagged")] == 8


@pytest.fixture(scope="module")
def processed() -> dict[str, pd.DataFrame]:
    return load(processed_dir=PROCESSED)


def test_budget_by_theme_on_processed_data(processed: dict[str, pd.DataFrame]) -> None:
    themes = th.tag_nodes(processed)
    result = budget(th.budget_by_theme(processed, themes))
    # 港区 R4: 2-1-1 地域防災の活動支援 2,025 + 2-2-1 地域防犯・安全対策 1,568
    assert result[("港区", 2022, "safety")] == 2025 + 1568
    # 3-1-2 高齢者等要援護者見守り支援 14,955 + 3-3-4 児童虐待…DV被害者の支援 4,960
    assert result[("港区", 2022, "welfare")] == 14955 + 4960
    # 3-3-4 4,960 + 4-1-1 子どもの学力・体力の向上 515 + 4-2-1 子育て支援機関… 1,267
    assert result[("港区", 2022, "children")] == 4960 + 515 + 1267
    # 北区 H31 prints no amounts
    assert not any(key[0] == "北区" for key in result)
    # shared out, the themes add up to each policy's total_budget_thousand_yen
    split = th.budget_by_theme(processed, themes, split=True)
    sums = split.groupby(["ward", "fiscal_year"])["budget_thousand_yen"].sum()
    totals = processed["policies"].dropna(subset=["total_budget_thousand_yen"])
    for row in totals.itertuples():
        assert sums[(row.ward, row.fiscal_year)] == pytest.approx(row.total_budget_thousand_yen)


def test_the_committed_template_changes_nothing_and_its_example_works(tmp_path: Path) -> None:
    """data/theme-overrides.csv is a template: comments and a header, no effect; with its
    example's # removed it is a valid override, and line numbers count the comments."""
    root = Path(__file__).resolve().parents[1]
    template = root / "data" / "theme-overrides.csv"
    tables = load(processed_dir=root / "data" / "processed")
    assert th.read_overrides(template, tables) is None
    baseline = th.build_themes(tables, overrides_path=None)
    pd.testing.assert_frame_equal(th.build_themes(tables, overrides_path=template), baseline)
    lines = template.read_text(encoding="utf-8").splitlines()
    example = next(n for n, line in enumerate(lines) if line.startswith("# minato-2022"))
    lines[example] = lines[example].removeprefix("# ")
    path = tmp_path / "theme-overrides.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    overrides = th.read_overrides(path, tables)
    assert overrides is not None and list(overrides["theme"]) == ["welfare"]
    path.write_text("\n".join([*lines, "minato-2022,issue,1,,,,saftey,typo"]) + "\n", "utf-8")
    with pytest.raises(th.OverrideError, match=f"line {len(lines) + 1}: unknown theme"):
        th.read_overrides(path, tables)
