"""Every published table's columns: one source for dtypes, the Parquet schema and
datapackage.json (Japanese and English descriptions, units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import pyarrow as pa

from osaka_unei.models import (
    LEVELS,
    BudgetKind,
)

# --- table definitions: one source for dtypes, Parquet schema and datapackage.json ------

Kind = Literal["string", "integer", "number", "boolean", "date", "datetime"]
_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    ja: str
    en: str
    unit: str | None = None  # 千円 / 円: also means "never negative"
    required: bool = False
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    ja: str
    en: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, _ARROW[c.kind], nullable=not c.required) for c in self.columns]
        )


_POLICY_ID = Column(
    "policy_id",
    "string",
    "運営方針ID({区スラッグ}-{年度})",
    "policy id: {ward_slug}-{fiscal_year}",
    required=True,
)
_WARD = Column("ward", "string", "区名", "ward name, e.g. 北区", required=True)
_FISCAL_YEAR = Column(
    "fiscal_year",
    "integer",
    "年度(西暦、4月始まり)",
    "fiscal year (Gregorian, from April)",
    required=True,
)
_ISSUE_CODE = Column("issue_code", "string", "経営課題番号", "issue (経営課題) number as printed")
_STRATEGY_CODE = Column("strategy_code", "string", "戦略番号", "strategy (戦略) number, e.g. 1-2")
_TITLE = Column("title", "string", "名称", "title")
_DESCRIPTION = Column("description", "string", "説明", "description text")
_MAIN_BUDGET = Column(
    "budget_thousand_yen",
    "integer",
    "主な予算額(千円)",
    "main amount of this item (its 予算額, or 算定見込額 on a draft), in thousand yen",
    unit="千円",
)
_ISSUE_POSITION = Column(
    "issue_position",
    "integer",
    "経営課題の順番",
    "position of the issue in the policy (1-based)",
    required=True,
)


def _position(ja: str, en: str) -> Column:
    return Column("position", "integer", ja, en, required=True)


POLICIES = TableSpec(
    "policies",
    "区運営方針(区・年度ごとに1行)",
    "ward operating policies, one row per ward and fiscal year",
    (
        _POLICY_ID,
        _WARD,
        Column(
            "ward_slug",
            "string",
            "区のディレクトリ名",
            "ward slug in the city's addresses",
            required=True,
        ),
        Column(
            "ward_code",
            "string",
            "区の全国地方公共団体コード(検査数字なし、例: 北区 27127)",
            "official ward code (local government code without check digit, e.g. 北区 27127); "
            "sort by wards.WARD_ORDER for the city's usual order",
            required=True,
        ),
        _FISCAL_YEAR,
        Column(
            "fiscal_year_label",
            "string",
            "年度表記",
            "fiscal year as printed, e.g. 令和4年度",
            required=True,
        ),
        Column(
            "draft",
            "boolean",
            "案・素案のページか",
            "true for a (案)/(素案) draft page",
            required=True,
        ),
        Column("title", "string", "ページ題名", "page title", required=True),
        Column(
            "published",
            "date",
            "ページの日付(最終更新日)",
            "date shown on the page (its last update)",
        ),
        Column("page_id", "string", "ページ番号", "page number on the city site"),
        Column("url", "string", "ページのアドレス", "page address"),
        Column("goal", "string", "区の目標", "ward goal (何をめざすのか)"),
        Column("mission", "string", "区の使命", "ward mission (どのような役割を担うのか)"),
        Column(
            "basic_policy",
            "string",
            "区運営の基本的な考え方(区長の方針)",
            "basic policy of the ward head",
        ),
        Column("n_issues", "integer", "経営課題の数", "number of issues", required=True),
        Column("n_strategies", "integer", "戦略の数", "number of strategies", required=True),
        Column(
            "n_initiatives", "integer", "具体的取組の数", "number of initiatives", required=True
        ),
        Column(
            "total_budget_thousand_yen",
            "integer",
            "予算額合計(千円、重複なし)",
            "sum of main amounts, each counted once: an issue's or strategy's amount counts "
            "only where none of its children carries one; null if the page gives none",
            unit="千円",
        ),
        Column(
            "source_kind",
            "string",
            "取得方法(fetched=取得したページ、capture=テキスト保存)",
            "fetched page or hand-added text capture",
            required=True,
            enum=("fetched", "capture"),
        ),
        Column(
            "source_sha256",
            "string",
            "元ファイルのSHA-256",
            "sha256 of the raw file",
            required=True,
        ),
        Column(
            "fetched_at",
            "datetime",
            "取得日時(UTC、この版を初めて保存した時)",
            "when this version was first stored (UTC)",
            required=True,
        ),
        Column("parser_version", "string", "パーサの版", "parser version", required=True),
    ),
    ("policy_id",),
)

ISSUES = TableSpec(
    "issues",
    "経営課題",
    "management issues (経営課題)",
    (
        _POLICY_ID,
        _WARD,
        _FISCAL_YEAR,
        _ISSUE_CODE,
        _TITLE,
        _DESCRIPTION,
        _MAIN_BUDGET,
        _ISSUE_POSITION,
    ),
    ("policy_id", "issue_position"),
)

STRATEGIES = TableSpec(
    "strategies",
    "戦略",
    "strategies (戦略)",
    (
        _POLICY_ID,
        _WARD,
        _FISCAL_YEAR,
        _ISSUE_CODE,
        _STRATEGY_CODE,
        _position("経営課題内の順番", "position within its issue (1-based)"),
        Column(
            "title",
            "string",
            "名称(空は戦略のない取組の受け皿)",
            "title; null for the placeholder of initiatives without a strategy",
        ),
        _DESCRIPTION,
        _MAIN_BUDGET,
        _ISSUE_POSITION,
    ),
    ("policy_id", "issue_position", "position"),
)

INITIATIVES = TableSpec(
    "initiatives",
    "具体的取組",
    "concrete initiatives (具体的取組)",
    (
        _POLICY_ID,
        _WARD,
        _FISCAL_YEAR,
        _ISSUE_CODE,
        _STRATEGY_CODE,
        Column("initiative_code", "string", "具体的取組番号", "initiative number, e.g. 1-2-3"),
        _position("戦略内の順番", "position within its strategy (1-based)"),
        _TITLE,
        _DESCRIPTION,
        _MAIN_BUDGET,
        Column(
            "budget_yen",
            "integer",
            "主な予算額(円)",
            "budget_thousand_yen × 1000, in yen",
            unit="円",
        ),
        _ISSUE_POSITION,
        Column(
            "strategy_position", "integer", "戦略の順番", "position of its strategy", required=True
        ),
    ),
    ("policy_id", "issue_position", "strategy_position", "position"),
)

BUDGETS = TableSpec(
    "budgets",
    "ページに記載された金額(すべて)",
    "every amount printed on the page",
    (
        _POLICY_ID,
        Column(
            "level",
            "string",
            "金額が付く項目の階層",
            "level of the item the amount belongs to",
            required=True,
            enum=("issue", "strategy", "initiative"),
        ),
        Column("code", "string", "項目の番号", "code of that item"),
        Column("label", "string", "金額の見出し(例: 29年度予算額)", "label as printed"),
        Column(
            "fiscal_year",
            "integer",
            "金額の年度(西暦): 見出しが示す年度、年度のない見出し(予算額 など)はページの年度",
            "fiscal year of the amount: the year the label names; where the label names no "
            "year (予算額, or no label), the page's own fiscal year",
            required=True,
        ),
        Column(
            "amount_thousand_yen",
            "integer",
            "金額(千円)",
            "amount in thousand yen; null for '-'",
            unit="千円",
        ),
        Column(
            "is_main",
            "boolean",
            "項目の主な金額か",
            "true for the item's main amount",
            required=True,
        ),
        Column("raw", "string", "ページ上の表記", "text as on the page", required=True),
        Column(
            "kind",
            "string",
            "種類(予算額・算定見込額・決算額・区CM予算額)",
            "budget / estimate / settled / cm_budget",
            required=True,
            enum=get_args(BudgetKind),
        ),
        Column(
            "budget_no",
            "integer",
            "運営方針内の通し番号",
            "running number in page order",
            required=True,
        ),
        Column(
            "issue_position", "integer", "経営課題の順番", "position of the issue", required=True
        ),
        Column(
            "strategy_position",
            "integer",
            "戦略の順番",
            "position of the strategy (null at issue level)",
        ),
        Column(
            "initiative_position",
            "integer",
            "具体的取組の順番",
            "position of the initiative (initiative level)",
        ),
    ),
    ("policy_id", "budget_no"),
)

REFORMS = TableSpec(
    "reforms",
    "市政改革プランの取組",
    "items of the city reform plan (市政改革プラン)",
    (
        _POLICY_ID,
        Column("plan", "string", "プラン名(例: 市政改革プラン3.0)", "plan name"),
        Column("code", "string", "取組項目番号", "item number"),
        _TITLE,
        Column("contents", "string", "取組内容(1行に1項目)", "contents, one per line"),
        _position("運営方針内の順番", "position in the policy (1-based)"),
    ),
    ("policy_id", "position"),
)

# --- node tables: one row per issue, strategy or initiative (or per goal/theme of one) ------
# A node is named as in its own table: an issue by issue_position, a strategy by
# issue_position + position, an initiative by issue_position + strategy_position + position.
# node_key joins those into one non-null text ("2", "2.1", "2.1.3") for primary keys.
NODE_COLUMNS: tuple[Column, ...] = (
    _POLICY_ID,
    Column(
        "level",
        "string",
        "階層(issue=経営課題, strategy=戦略, initiative=具体的取組)",
        "level of the node: issue (経営課題), strategy (戦略) or initiative (具体的取組)",
        required=True,
        enum=LEVELS,
    ),
    Column(
        "node_key",
        "string",
        "運営方針内の位置(経営課題.戦略.取組の順番、例: 2.1.3)",
        "the node's place in the policy: its positions joined by dots (issue 2 → 2, its "
        "strategy 1 → 2.1, that strategy's initiative 3 → 2.1.3)",
        required=True,
    ),
    Column(
        "issue_position",
        "integer",
        "経営課題の順番",
        "position of the node's issue (1-based)",
        required=True,
    ),
    Column(
        "strategy_position",
        "integer",
        "戦略の順番(具体的取組の行のみ)",
        "position of an initiative's strategy (initiative rows only)",
    ),
    Column(
        "position",
        "integer",
        "戦略・具体的取組の順番(経営課題の行は空)",
        "position of a strategy or initiative under its parent (null on issue rows)",
    ),
    Column("code", "string", "番号(表記どおり)", "the node's code as printed, e.g. 1-2"),
)

SDGS = TableSpec(
    "sdgs",
    "SDGsゴール(ページが項目ごとに掲げるもの)",
    "SDGs goals a page names, per node (on the level it is printed on)",
    (
        *NODE_COLUMNS,
        Column("goal", "integer", "SDGsゴール番号(1〜17)", "SDGs goal number, 1–17", required=True),
        Column(
            "raw",
            "string",
            "ページの表記(例: 関連するSDGs 11住み続けられるまちづくりを)",
            "the SDGs line as printed (normalised)",
            required=True,
        ),
    ),
    ("policy_id", "node_key", "goal"),
)

PARSE_REPORT = TableSpec(
    "parse_report",
    "解析結果(生ファイルごとに1行)",
    "one row per raw file: what the build made of it",
    (
        Column(
            "path",
            "string",
            "生ファイル(data/raw からの相対パス)",
            "raw file, relative to data/raw",
            required=True,
        ),
        Column("url", "string", "ページのアドレス", "page address (null if not in the manifest)"),
        Column("ward_slug", "string", "区のディレクトリ名", "ward slug"),
        Column("fiscal_year", "integer", "年度(西暦)", "fiscal year"),
        Column(
            "status",
            "string",
            "結果",
            "ok, warning, error, or superseded (an older version, or a page replaced by a final one)",
            required=True,
            enum=("ok", "warning", "error", "superseded"),
        ),
        Column("messages", "string", "メッセージ(' | ' 区切り)", "messages joined with ' | '"),
    ),
    ("path",),
)

TABLES: tuple[TableSpec, ...] = (
    POLICIES,
    ISSUES,
    STRATEGIES,
    INITIATIVES,
    BUDGETS,
    REFORMS,
    SDGS,
    PARSE_REPORT,
)
TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)
SPECS = {spec.name: spec for spec in TABLES}
# Tables whose per-ward row counts must not shrink from one build to the next.
COUNTED_TABLES = (
    "policies",
    "issues",
    "strategies",
    "initiatives",
    "budgets",
    "reforms",
    "sdgs",
)
