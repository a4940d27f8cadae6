"""Raw store → the published dataset: tidy tables in Parquet and CSV, checked and described.

`run_build` reads the manifest, parses the latest version of each page (through a cache
keyed by content hash and parser version), keeps one policy per ward and fiscal year,
flattens the policies into tables, checks them and only then writes `data/processed/`.
Every raw file gets one row in `parse_report`, so nothing in the store is silently skipped.
Outputs are byte-for-byte deterministic: a second build on unchanged input rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from osaka_unei import store
from osaka_unei.models import (
    PARSER_VERSION,
    Budget,
    BudgetKind,
    RawRecord,
    WardPolicy,
    total_budget,
)
from osaka_unei.store import DEFAULT_CACHE_DIR, DEFAULT_OUT_DIR, DEFAULT_RAW_DIR
from osaka_unei.wards import SLUG_WARDS, page_address

SITE_PREFIXES = ("https://www.city.osaka.lg.jp/", "http://www.city.osaka.lg.jp/")

STATS_NAME = "build_stats.json"
DATAPACKAGE_NAME = "datapackage.json"
SOURCE_URL = "https://www.city.osaka.lg.jp/"

Row = dict[str, Any]
# (file, url, http_charset) → policy; the default is parse.parse_page.
ParseFn = Callable[[Path, str | None, str | None], WardPolicy]


class CheckError(Exception):
    """A frame check failed; the message is one line naming the check."""


# --- table definitions: one source for dtypes, Parquet schema and datapackage.json ------

Kind = Literal["string", "integer", "boolean", "date", "datetime"]
_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
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
        Column("fiscal_year", "integer", "見出しが示す年度(西暦)", "fiscal year the label names"),
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
    PARSE_REPORT,
)
TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)
_SPECS = {spec.name: spec for spec in TABLES}
# Tables whose per-ward row counts must not shrink from one build to the next.
_COUNTED = ("policies", "issues", "strategies", "initiatives", "budgets", "reforms")


# --- flattening: one WardPolicy → rows of every table ------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a policy's bytes came from, as the manifest records it."""

    url: str | None
    source_kind: Literal["fetched", "capture"]
    sha256: str
    fetched_at: dt.datetime


def policy_id(ward_slug: str, fiscal_year: int) -> str:
    return f"{ward_slug}-{fiscal_year}"


def flatten(policy: WardPolicy, source: Source) -> dict[str, list[Row]]:
    """All rows one policy contributes, by table (parse_report excluded)."""
    pid = policy_id(policy.ward_slug, policy.fiscal_year)
    base = {"policy_id": pid, "ward": policy.ward, "fiscal_year": policy.fiscal_year}
    rows: dict[str, list[Row]] = {name: [] for name in _COUNTED}

    def add_budgets(
        budgets: list[Budget], level: str, code: str | None, positions: tuple[int, ...]
    ) -> None:
        for budget in budgets:
            rows["budgets"].append(
                {
                    "policy_id": pid,
                    "level": level,
                    "code": code,
                    "label": budget.label,
                    "fiscal_year": budget.fiscal_year,
                    "amount_thousand_yen": budget.amount_thousand_yen,
                    "is_main": budget.is_main,
                    "raw": budget.raw,
                    "kind": budget.kind,
                    "budget_no": len(rows["budgets"]) + 1,
                    "issue_position": positions[0],
                    "strategy_position": positions[1] if len(positions) > 1 else None,
                    "initiative_position": positions[2] if len(positions) > 2 else None,
                }
            )

    for issue in policy.issues:
        rows["issues"].append(
            base
            | {
                "issue_code": issue.code,
                "title": issue.title,
                "description": issue.description,
                "budget_thousand_yen": issue.budget_thousand_yen,
                "issue_position": issue.position,
            }
        )
        add_budgets(issue.budgets, "issue", issue.code, (issue.position,))
        for strategy in issue.strategies:
            rows["strategies"].append(
                base
                | {
                    "issue_code": issue.code,
                    "strategy_code": strategy.code,
                    "position": strategy.position,
                    "title": strategy.title,
                    "description": strategy.description,
                    "budget_thousand_yen": strategy.budget_thousand_yen,
                    "issue_position": issue.position,
                }
            )
            add_budgets(
                strategy.budgets, "strategy", strategy.code, (issue.position, strategy.position)
            )
            for initiative in strategy.initiatives:
                amount = initiative.budget_thousand_yen
                rows["initiatives"].append(
                    base
                    | {
                        "issue_code": issue.code,
                        "strategy_code": strategy.code,
                        "initiative_code": initiative.code,
                        "position": initiative.position,
                        "title": initiative.title,
                        "description": initiative.description,
                        "budget_thousand_yen": amount,
                        "budget_yen": None if amount is None else amount * 1000,
                        "issue_position": issue.position,
                        "strategy_position": strategy.position,
                    }
                )
                add_budgets(
                    initiative.budgets,
                    "initiative",
                    initiative.code,
                    (issue.position, strategy.position, initiative.position),
                )
    for position, reform in enumerate(policy.reforms, start=1):
        rows["reforms"].append(
            {
                "policy_id": pid,
                "plan": reform.plan,
                "code": reform.code,
                "title": reform.title,
                "contents": "\n".join(reform.contents) if reform.contents else None,
                "position": position,
            }
        )
    rows["policies"].append(
        {
            "policy_id": pid,
            "ward": policy.ward,
            "ward_slug": policy.ward_slug,
            "fiscal_year": policy.fiscal_year,
            "fiscal_year_label": policy.fiscal_year_label,
            "draft": policy.draft,
            "title": policy.title,
            "published": policy.published,
            "page_id": policy.page_id,
            "url": policy.url or source.url,
            "goal": policy.goal,
            "mission": policy.mission,
            "basic_policy": policy.basic_policy,
            "n_issues": len(rows["issues"]),
            "n_strategies": len(rows["strategies"]),
            "n_initiatives": len(rows["initiatives"]),
            "total_budget_thousand_yen": total_budget(policy),
            "source_kind": source.source_kind,
            "source_sha256": source.sha256,
            "fetched_at": _utc(source.fetched_at),
            "parser_version": policy.parser_version,
        }
    )
    return rows


def _utc(moment: dt.datetime) -> dt.datetime:
    # The manifest writes aware times; a naive one can only have meant UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _sort_key(spec: TableSpec) -> Callable[[Row], tuple[Any, ...]]:
    return lambda row: tuple(row[name] for name in spec.key)


def make_frame(spec: TableSpec, rows: Iterable[Row]) -> pd.DataFrame:
    """Rows → a DataFrame with the table's exact columns and dtypes, sorted by its key."""
    ordered = sorted(rows, key=_sort_key(spec))
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in spec.names} for row in ordered], schema=spec.schema
    )
    # Int64 keeps nullable integers integers; dates stay datetime.date objects.
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def make_tables(
    flattened: Iterable[Mapping[str, list[Row]]], report: Iterable[Row]
) -> dict[str, pd.DataFrame]:
    collected: dict[str, list[Row]] = {name: [] for name in _COUNTED}
    for rows in flattened:
        for name, table_rows in rows.items():
            collected[name].extend(table_rows)
    collected["parse_report"] = list(report)
    return {spec.name: make_frame(spec, collected[spec.name]) for spec in TABLES}


# --- checks -----------------------------------------------------------------------------


def _code_under(child: str, parent: str) -> bool:
    """'1-2-3' is under '1-2' and under '1'; codes are normalised to '-' by the parser."""
    child_parts, parent_parts = child.split("-"), parent.split("-")
    return len(child_parts) > len(parent_parts) and child_parts[: len(parent_parts)] == parent_parts


def _check_codes(df: pd.DataFrame, child: str, parents: list[str], table: str) -> None:
    for code, *ancestors in _rows(df, [child, *parents]):
        nearest = next((a for a in ancestors if a is not None), None)
        if code is not None and nearest is not None and not _code_under(code, nearest):
            raise CheckError(f"codes: {table}.{child} {code!r} is not under {nearest!r}")


def check_tables(tables: Mapping[str, pd.DataFrame], raw_files: Iterable[str]) -> None:
    """Raise CheckError (one line naming the check) unless the frames are publishable."""
    for spec in TABLES:
        df = tables[spec.name]
        if list(df.columns) != spec.names:
            raise CheckError(f"columns: {spec.name} has {list(df.columns)}, expected {spec.names}")
        for column in spec.columns:
            values = df[column.name]
            if column.required and values.isna().any():
                raise CheckError(f"required: {spec.name}.{column.name} has nulls")
            if column.enum and not values.dropna().isin(column.enum).all():
                bad = sorted(set(values.dropna()) - set(column.enum))
                raise CheckError(f"values: {spec.name}.{column.name} has {bad}")
            if column.unit and (values.dropna() < 0).any():
                raise CheckError(f"non-negative: {spec.name}.{column.name} has a negative amount")
        duplicated = df.duplicated(subset=list(spec.key), keep=False)
        if duplicated.any():
            first = tuple(df.loc[duplicated, list(spec.key)].iloc[0])
            raise CheckError(f"unique key: {spec.name} repeats ({', '.join(spec.key)}) = {first}")

    policies = tables["policies"]
    unknown = sorted(set(policies["ward_slug"]) - set(SLUG_WARDS))
    report_slugs = set(tables["parse_report"]["ward_slug"].dropna())
    unknown += sorted(report_slugs - set(SLUG_WARDS))
    if unknown:
        raise CheckError(f"ward slugs: unknown {unknown}")
    for row in policies[["policy_id", "ward", "ward_slug", "fiscal_year"]].itertuples():
        if row.policy_id != policy_id(row.ward_slug, row.fiscal_year):
            raise CheckError(f"policy_id: {row.policy_id} is not ward_slug-fiscal_year")
        if SLUG_WARDS[row.ward_slug] != row.ward:
            raise CheckError(f"ward slugs: {row.policy_id} has ward {row.ward}")

    ids = set(policies["policy_id"])
    for name in _COUNTED[1:]:
        orphans = sorted(set(tables[name]["policy_id"]) - ids)
        if orphans:
            raise CheckError(f"parents: {name} rows for unknown policy {orphans[0]}")
    _check_parents(tables)
    _check_codes(tables["strategies"], "strategy_code", ["issue_code"], "strategies")
    _check_codes(
        tables["initiatives"], "initiative_code", ["strategy_code", "issue_code"], "initiatives"
    )
    for table, column in (
        ("issues", "n_issues"),
        ("strategies", "n_strategies"),
        ("initiatives", "n_initiatives"),
    ):
        counts = tables[table].groupby("policy_id").size()
        expected = policies.set_index("policy_id")[column]
        if not expected.astype("int64").equals(
            counts.reindex(expected.index, fill_value=0).astype("int64")
        ):
            raise CheckError(f"counts: policies.{column} differs from the rows of {table}")

    reported = set(tables["parse_report"]["path"])
    missing = sorted(set(raw_files) - reported)
    if missing:
        raise CheckError(f"parse report: raw file {missing[0]} has no row")


# (child, parent, child key, parent key, child codes, parent codes); budgets by level.
_STRATEGY_KEY = ["policy_id", "issue_position", "position"]
_LINKS: tuple[tuple[str, str, list[str], list[str], list[str], list[str]], ...] = (
    ("strategies", "issues", ["policy_id", "issue_position"], ["policy_id", "issue_position"],
     ["issue_code"], ["issue_code"]),
    ("initiatives", "strategies", ["policy_id", "issue_position", "strategy_position"],
     _STRATEGY_KEY, ["issue_code", "strategy_code"], ["issue_code", "strategy_code"]),
    ("issue", "issues", ["policy_id", "issue_position"], ["policy_id", "issue_position"],
     ["code"], ["issue_code"]),
    ("strategy", "strategies", ["policy_id", "issue_position", "strategy_position"],
     _STRATEGY_KEY, ["code"], ["strategy_code"]),
    ("initiative", "initiatives",
     ["policy_id", "issue_position", "strategy_position", "initiative_position"],
     ["policy_id", "issue_position", "strategy_position", "position"],
     ["code"], ["initiative_code"]),
)  # fmt: skip


def _rows(df: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return [
        tuple(None if pd.isna(v) else v for v in row)
        for row in df[columns].astype(object).itertuples(index=False, name=None)
    ]


def _check_parents(tables: Mapping[str, pd.DataFrame]) -> None:
    """Every child sits under an existing parent and repeats that parent's codes."""
    budgets = tables["budgets"]
    for child, parent, child_key, parent_key, child_codes, parent_codes in _LINKS:
        rows = tables[child] if child in tables else budgets[budgets["level"] == child]
        name = child if child in tables else f"budgets ({child})"
        parents = {
            row[: len(parent_key)]: row[len(parent_key) :]
            for row in _rows(tables[parent], parent_key + parent_codes)
        }
        for row in _rows(rows, child_key + child_codes):
            key, codes = row[: len(child_key)], row[len(child_key) :]
            if key not in parents:
                raise CheckError(f"parents: {name} row {key} has no parent in {parent}")
            if codes != parents[key]:
                raise CheckError(f"codes: {name} row {key} has {codes}, its parent {parents[key]}")


# --- row-count regression --------------------------------------------------------------


def row_counts(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """Per table, rows per ward slug (deterministic order)."""
    slug_of = dict(
        zip(tables["policies"]["policy_id"], tables["policies"]["ward_slug"], strict=True)
    )
    counts: dict[str, dict[str, int]] = {}
    for name in _COUNTED:
        per_ward = tables[name]["policy_id"].map(slug_of).value_counts()
        counts[name] = {slug: int(per_ward[slug]) for slug in sorted(per_ward.index)}
    return counts


def check_shrink(
    previous: Mapping[str, Mapping[str, int]], current: Mapping[str, Mapping[str, int]]
) -> None:
    for table in _COUNTED:
        for slug, before in sorted(previous.get(table, {}).items()):
            after = current.get(table, {}).get(slug, 0)
            if after < before:
                raise CheckError(
                    f"shrink: ward {slug} lost rows in {table} ({before} → {after}); "
                    "rerun with --allow-shrink if that is right"
                )


def _previous_counts(out_dir: Path) -> dict[str, dict[str, int]]:
    path = out_dir / STATS_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckError(f"shrink: cannot read previous {path}: {exc}") from exc


# --- serialisation ----------------------------------------------------------------------


def parquet_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    try:
        # from_pandas keeps pandas metadata, so plain pd.read_parquet gives Int64 back.
        table = pa.Table.from_pandas(df, schema=spec.schema, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise CheckError(f"types: {spec.name} does not fit its schema: {exc}") from exc
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _iso_utc(value: Any) -> Any:
    return value if pd.isna(value) else value.isoformat().replace("+00:00", "Z")


def csv_bytes(spec: TableSpec, df: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM (Excel reads Japanese right), ISO dates and times, '\\n' lines."""
    out = df.copy()
    for column in spec.columns:
        if column.kind == "datetime":
            out[column.name] = out[column.name].astype(object).map(_iso_utc)
        elif column.kind == "boolean":
            out[column.name] = out[column.name].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def datapackage() -> dict[str, Any]:
    """The Frictionless Data Package descriptor: static, so it never varies between builds."""
    resources = []
    for spec in TABLES:
        fields = []
        for column in spec.columns:
            entry: dict[str, Any] = {
                "name": column.name,
                "type": column.kind,
                "title": column.en,
                "description": f"{column.ja} / {column.en}",
            }
            if column.kind == "date":
                entry["format"] = "default"
            if column.unit:
                entry["unit"] = column.unit
            constraints: dict[str, Any] = {}
            if column.required:
                constraints["required"] = True
            if column.enum:
                constraints["enum"] = list(column.enum)
            if column.unit:
                constraints["minimum"] = 0
            if constraints:
                entry["constraints"] = constraints
            fields.append(entry)
        schema: dict[str, Any] = {"fields": fields, "primaryKey": list(spec.key)}
        if spec.name in _COUNTED[1:]:
            schema["foreignKeys"] = [
                {
                    "fields": ["policy_id"],
                    "reference": {"resource": "policies", "fields": ["policy_id"]},
                }
            ]
        resources.append(
            {
                "name": spec.name,
                "path": f"{spec.name}.csv",
                "title": spec.en,
                "description": f"{spec.ja} / {spec.en}. Same data in {spec.name}.parquet.",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "parquet_path": f"{spec.name}.parquet",
                "schema": schema,
            }
        )
    return {
        "name": "osaka-unei",
        "title": "大阪市 区運営方針 / Osaka City ward operating policies",
        "description": (
            "大阪市24区の区運営方針(目標・使命・経営課題・戦略・具体的取組・予算額)。"
            "金額の単位は千円。 / The yearly operating policies of Osaka City's 24 wards: "
            "goals, issues, strategies, initiatives and budgets. Amounts are in 千円 "
            "(thousand yen). Each CSV has a Parquet twin of the same name."
        ),
        "sources": [
            {"title": "大阪市 各区のホームページ (Osaka City ward pages)", "path": SOURCE_URL}
        ],
        "licenses_note": (
            "The texts belong to 大阪市 (Osaka City) and are reproduced for research and civic "
            "use; see the city's terms of use on " + SOURCE_URL + ". The project's code is MIT."
        ),
        "resources": resources,
    }


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_outputs(tables: Mapping[str, pd.DataFrame]) -> dict[str, bytes]:
    """File name → bytes for everything written to the output folder."""
    files: dict[str, bytes] = {}
    for spec in TABLES:
        files[f"{spec.name}.parquet"] = parquet_bytes(spec, tables[spec.name])
        files[f"{spec.name}.csv"] = csv_bytes(spec, tables[spec.name])
    files[DATAPACKAGE_NAME] = _json_bytes(datapackage())
    files[STATS_NAME] = _json_bytes({"rows": row_counts(tables)})
    return files


def write_outputs(out_dir: Path, files: Mapping[str, bytes]) -> list[str]:
    """Stage changed files in a temp folder, then move them in; unchanged files keep their
    bytes and mtimes. Returns the names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = [
        name
        for name, data in files.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != data
    ]
    if not changed:
        return []
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
    try:
        for name in changed:
            (staging / name).write_bytes(files[name])
        for name in changed:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changed


# --- the build run ----------------------------------------------------------------------


@dataclass(slots=True)
class BuildResult:
    tables: dict[str, pd.DataFrame]
    parsed: int = 0
    cached: int = 0
    written: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return int((self.tables["parse_report"]["status"] == status).sum())

    def summary(self, out_dir: Path) -> str:
        return (
            f"build: {self.parsed} pages parsed, {self.cached} from cache, "
            f"{self.count('warning')} warnings, {self.count('error')} errors, "
            f"{self.count('superseded')} superseded; {len(TABLES)} tables in {out_dir} "
            f"({len(self.written)} files changed)"
        )


@dataclass(slots=True)
class _Parsed:
    path: str
    record: RawRecord
    policy: WardPolicy | None
    messages: list[str]


def _default_parse(path: Path, url: str | None, charset: str | None) -> WardPolicy:
    from osaka_unei.parse import parse_page

    return parse_page(path, url=url, http_charset=charset)


def _page_error() -> type[Exception]:
    from osaka_unei.parse import PageError

    return PageError


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@functools.cache
def parser_fingerprint() -> str:
    """PARSER_VERSION plus a hash of the modules that decide what a page parses to."""
    from osaka_unei import extract, models, parse, text, variants, wards

    digest = hashlib.sha256()
    for module in (extract, models, parse, text, variants, wards):
        digest.update(Path(module.__file__ or "").read_bytes())
    return f"{PARSER_VERSION}-{digest.hexdigest()[:12]}"


class _Cache:
    """`{sha256}-{parser_fingerprint}.json` holds the policy, `.error` a PageError message.

    The fingerprint hashes the parser's own source, so a changed rule never serves a stale
    parse even when PARSER_VERSION was not bumped."""

    def __init__(self, cache_dir: Path, force: bool) -> None:
        self.cache_dir, self.force = cache_dir, force

    def _path(self, sha256: str, suffix: str) -> Path:
        return self.cache_dir / f"{sha256}-{parser_fingerprint()}{suffix}"

    def get(self, sha256: str, url: str | None) -> WardPolicy | str | None:
        if self.force:
            return None
        error = self._path(sha256, ".error")
        if error.is_file():
            return error.read_text(encoding="utf-8")
        path = self._path(sha256, ".json")
        if not path.is_file():
            return None
        try:
            policy = WardPolicy.model_validate_json(path.read_bytes())
        except ValueError:
            return None  # a damaged entry is a miss, rewritten below
        # The url feeds page_id and url fields: the same bytes at another address reparse.
        return policy if policy.url == url else None

    def put(self, sha256: str, value: WardPolicy | str) -> None:
        if isinstance(value, str):
            store.write_atomic(self._path(sha256, ".error"), value.encode("utf-8"))
        else:
            store.write_atomic(self._path(sha256, ".json"), value.model_dump_json().encode("utf-8"))


def _raw_files(raw_dir: Path) -> list[str]:
    if not raw_dir.is_dir():
        return []
    manifest = raw_dir / store.MANIFEST_NAME
    return sorted(
        path.relative_to(raw_dir).as_posix()
        for path in raw_dir.rglob("*")
        if path.is_file() and path != manifest
    )


def _known_slug(slug: str | None) -> str | None:
    return slug if slug in SLUG_WARDS else None


def _report_row(
    path: str, record: RawRecord | None, policy: WardPolicy | None, status: str, messages: list[str]
) -> Row:
    return {
        "path": path,
        "url": record.url if record else None,
        "ward_slug": policy.ward_slug
        if policy
        else _known_slug(record.ward_slug if record and record.ward_slug else path.split("/")[0]),
        "fiscal_year": policy.fiscal_year if policy else (record.fiscal_year if record else None),
        "status": status,
        "messages": " | ".join(messages) if messages else None,
    }


def _preference(item: _Parsed) -> tuple[Any, ...]:
    """Final before draft, then the most recent page date, then the latest fetch."""
    policy = item.policy
    assert policy is not None
    return (
        not policy.draft,
        policy.published or dt.date.min,
        _utc(item.record.fetched_at),
        item.record.url,
    )


def run_build(
    raw_dir: Path = DEFAULT_RAW_DIR,
    out_dir: Path = DEFAULT_OUT_DIR,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    *,
    force: bool = False,
    allow_shrink: bool = False,
    parse: ParseFn | None = None,
) -> BuildResult:
    """Parse the latest version of every stored page, check, and write out_dir.

    Raises ValueError for a damaged manifest and CheckError when a check fails; in both
    cases nothing in out_dir changes.
    """
    parse = parse or _default_parse
    records = store.read_manifest(raw_dir)
    first_seen = {record.path: record for record in store.stored_versions(records)}
    latest = store.latest_versions(records)
    latest_url_of = {record.path: url for url, record in latest.items()}
    cache = _Cache(cache_dir, force)
    result = BuildResult(tables={})
    report: list[Row] = []
    candidates: list[_Parsed] = []

    for path, record in first_seen.items():
        assert path is not None
        url = latest_url_of.get(path)
        if url is None:
            note = f"older version of {record.url}; latest is {latest[record.url].path}"
            report.append(_report_row(path, record, None, "superseded", [note]))
            continue
        item = _parse_one(raw_dir, path, latest[url], cache, parse, result)
        if item.policy is None:
            report.append(_report_row(path, record, None, "error", item.messages))
        else:
            candidates.append(item)

    for path in sorted(set(_raw_files(raw_dir)) - set(first_seen)):
        report.append(_report_row(path, None, None, "error", ["not in manifest"]))

    by_policy: dict[str, list[_Parsed]] = {}
    for item in candidates:
        assert item.policy is not None
        by_policy.setdefault(policy_id(item.policy.ward_slug, item.policy.fiscal_year), []).append(
            item
        )
    flattened = []
    for pid, items in sorted(by_policy.items()):
        kept, *others = sorted(items, key=_preference, reverse=True)
        assert kept.policy is not None
        record = first_seen[kept.path]
        flattened.append(
            flatten(
                kept.policy,
                Source(
                    url=kept.record.url,
                    source_kind=record.source_kind,
                    sha256=record.sha256 or kept.policy.source_sha256,
                    fetched_at=record.fetched_at,
                ),
            )
        )
        status = "warning" if kept.messages else "ok"
        report.append(_report_row(kept.path, kept.record, kept.policy, status, kept.messages))
        for other in others:
            note = f"superseded by {pid} from {kept.record.url}"
            report.append(
                _report_row(
                    other.path, other.record, other.policy, "superseded", [note, *other.messages]
                )
            )

    tables = make_tables(flattened, report)
    check_tables(tables, _raw_files(raw_dir))
    if not allow_shrink:
        check_shrink(_previous_counts(out_dir), row_counts(tables))
    result.tables = tables
    result.written = write_outputs(out_dir, render_outputs(tables))
    return result


def _parse_one(
    raw_dir: Path,
    path: str,
    record: RawRecord,
    cache: _Cache,
    parse: ParseFn,
    result: BuildResult,
) -> _Parsed:
    """One latest version → its policy (from cache or parser) or error messages."""
    file = raw_dir / path
    if not file.is_file():
        return _Parsed(path, record, None, ["missing file"])
    sha256 = store.sha256_hex(file.read_bytes())
    if record.sha256 and record.sha256 != sha256:
        return _Parsed(path, record, None, [f"file sha256 {sha256[:16]} differs from the manifest"])
    cached = cache.get(sha256, record.url)
    if cached is not None:
        result.cached += 1
    else:
        result.parsed += 1
        try:
            cached = parse(file, record.url, record.charset)
        except Exception as exc:
            # parse_page raises only PageError; anything else is a parser bug: reported, not cached.
            if not isinstance(exc, _page_error()):
                return _Parsed(
                    path, record, None, [f"parser failed: {type(exc).__name__}: {_one_line(exc)}"]
                )
            cached = _one_line(exc)
        cache.put(sha256, cached)
    if isinstance(cached, str):
        return _Parsed(path, record, None, [cached])
    messages = list(cached.warnings)
    stored_slug = record.ward_slug or path.split("/")[0]
    if stored_slug != cached.ward_slug:
        messages.append(f"page names ward {cached.ward_slug} but is stored under {stored_slug}")
    return _Parsed(path, record, cached, messages)


# --- text captures ----------------------------------------------------------------------


def capture_address(url: str) -> tuple[str, str, str]:
    """(normalised https url, ward slug, page id) of a ward page address, or ValueError."""
    address = page_address(url.strip()) if url.strip().startswith(SITE_PREFIXES) else None
    if address is None or address[0] not in SLUG_WARDS:
        raise ValueError(
            f"not a ward page address: {url} (expected {SOURCE_URL}{{ward}}/page/{{number}}.html)"
        )
    slug, number = address[0], int(address[1])
    # The registry's form (10-digit page number), so a later fetch of the page supersedes it.
    return f"{SOURCE_URL}{slug}/page/{number:010d}.html", slug, str(number)


def add_capture(raw_dir: Path, data: bytes, url: str, now: dt.datetime) -> tuple[RawRecord, bool]:
    """Store a text capture of a ward page and record it; (record, False) if that capture
    of that address is already recorded."""
    address, slug, page_id = capture_address(url)
    if not data.strip():
        raise ValueError("the capture is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the capture is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from exc
    sha256 = store.sha256_hex(data)
    for record in store.read_manifest(raw_dir):
        if record.url == address and record.sha256 == sha256 and record.path:
            store.store_version(raw_dir, slug, page_id, data, "txt")  # restore a lost file
            return record, False
    path = store.store_version(raw_dir, slug, page_id, data, "txt")
    record = RawRecord(
        url=address,
        fetched_at=_utc(now),
        content_type="text/plain; charset=utf-8",
        charset="utf-8",
        sha256=sha256,
        size=len(data),
        outcome="capture",
        path=path,
        ward_slug=slug,
        page_id=page_id,
        source_kind="capture",
    )
    store.append_manifest(raw_dir, [record])
    return record, True


# --- notebooks --------------------------------------------------------------------------


def _default_processed_dir() -> Path:
    # From the repository root, or from anywhere with an editable install of it.
    if DEFAULT_OUT_DIR.is_dir():
        return DEFAULT_OUT_DIR
    return Path(__file__).resolve().parents[2] / DEFAULT_OUT_DIR


def load(
    name: str | None = None, processed_dir: Path | str | None = None
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The dataset's tables as DataFrames (all, by name, or the one named)."""
    folder = Path(processed_dir) if processed_dir is not None else _default_processed_dir()
    names = TABLE_NAMES if name is None else (name,)
    if name is not None and name not in _SPECS:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLE_NAMES)}")
    frames = {}
    for table in names:
        path = folder / f"{table}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `make all` to build the dataset")
        frames[table] = pd.read_parquet(path)
    return frames[name] if name is not None else frames
