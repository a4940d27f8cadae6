"""The versions and changes tables, over hand-made versions of one 港区 page (see
tests/fixtures/versions/README.md). Expected values are read off the fixture edits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from osaka_unei import store
from osaka_unei.analysis.changes import (
    CHANGES,
    Change,
    changes_table,
    diff_policies,
    match_nodes,
    normalise_code,
)
from osaka_unei.analysis.versions import (
    VERSIONS,
    VersionInput,
    current_paths,
    versions_table,
)
from osaka_unei.dataset.tables import TableSpec
from osaka_unei.models import RawRecord, Strategy, WardPolicy
from osaka_unei.parse import PageError, parse_page
from osaka_unei.publish.run import run_build
from osaka_unei.views.changes import changes_view

from .conftest import FIXTURES


def parse_versions(raw_dir: Path, current: set[str]) -> list[VersionInput]:
    """Every stored version of a raw store, parsed afresh (the build does the same through
    its cache): a file that cannot be parsed gives policy None and the reason."""
    items = []
    for record in store.stored_versions(store.read_manifest(raw_dir)):
        assert record.path is not None
        policy, messages = None, ()
        try:
            policy = parse_page(raw_dir / record.path, url=record.url)
        except PageError as exc:
            messages = (str(exc),)
        items.append(VersionInput(record, policy, record.path in current, messages))
    return items


VERSIONS_DIR = FIXTURES / "versions"
DRAFT, FINAL, MIDYEAR, SELFEVAL = (
    "minato-2022-1-draft.txt",
    "minato-2022-2-final.txt",
    "minato-2022-3-midyear.txt",
    "minato-2022-4-selfeval.txt",
)
URL = "https://www.city.osaka.lg.jp/minato/page/0000565017.html"
DRAFT_URL = "https://www.city.osaka.lg.jp/minato/page/0000559850.html"
DRAFT_NOTICE = "※この運営方針(案)は、令和4年度予算の成立をもって確定します。"
MID_NOTE = (
    "運営方針の進捗管理(中間振り返り)を実施しました。その結果について、"
    "「中間振り返り」欄に反映しています。(令和4年9月30日)"
)
SELF_NOTE = (
    "運営方針の進捗管理(振り返り)を実施しました。その結果について、"
    "「自己評価」欄に反映しています。(令和5年6月9日)"
)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=3, tzinfo=dt.UTC)


def text(name: str) -> bytes:
    return (VERSIONS_DIR / name).read_bytes()


def put(raw: Path, data: bytes, url: str, when: dt.datetime, outcome: str = "fetched") -> RawRecord:
    page = url.rsplit("/", 1)[1].removesuffix(".html").lstrip("0")
    path = store.store_version(raw, "minato", page, data, "txt")
    record = RawRecord(
        url=url,
        fetched_at=when,
        sha256=store.sha256_hex(data),
        size=len(data),
        outcome=outcome,  # type: ignore[arg-type]
        path=path,
        ward_slug="minato",
        fiscal_year=2022,
        page_id=page,
        source_kind="capture",
    )
    store.append_manifest(raw, [record])
    return record


@pytest.fixture
def in_place(tmp_path: Path) -> dict[str, RawRecord]:
    """Four versions of page 565017 updated in place, a re-sighting of the final one, and
    one stored body that is not a policy page (between final and mid-year)."""
    raw = tmp_path / "raw"
    records = {
        DRAFT: put(raw, text(DRAFT), URL, at("2022-02-15")),
        FINAL: put(raw, text(FINAL), URL, at("2022-04-02")),
        "broken": put(raw, "メンテナンス中です".encode(), URL, at("2022-07-01")),
        MIDYEAR: put(raw, text(MIDYEAR), URL, at("2022-10-04")),
        SELFEVAL: put(raw, text(SELFEVAL), URL, at("2023-06-10")),
    }
    put(raw, text(SELFEVAL), URL, at("2023-07-10"), outcome="unchanged")
    return records


def by_path(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    return {row["path"]: row for row in frame.to_dict("records")}


# --- versions -----------------------------------------------------------------------------


def test_versions_table_one_row_per_stored_version(
    tmp_path: Path, in_place: dict[str, RawRecord]
) -> None:
    current = {str(in_place[SELFEVAL].path)}
    frame = versions_table(parse_versions(tmp_path / "raw", current))
    assert list(frame.columns) == VERSIONS.names
    assert len(frame) == 5  # the re-sighting is not a new version
    rows = by_path(frame)
    expected = {  # draft, n_notes, n_issues, n_strategies, n_initiatives, total, published
        DRAFT: (True, 1, 6, 10, 10, 66_726, dt.date(2022, 2, 14)),
        FINAL: (False, 0, 6, 10, 10, 65_958, dt.date(2022, 4, 1)),
        MIDYEAR: (False, 1, 6, 10, 10, 65_454, dt.date(2022, 10, 3)),
        SELFEVAL: (False, 2, 6, 10, 10, 65_454, dt.date(2023, 6, 9)),
    }
    for name, values in expected.items():
        row = rows[str(in_place[name].path)]
        assert (
            row["draft"],
            row["n_status_notes"],
            row["n_issues"],
            row["n_strategies"],
            row["n_initiatives"],
            row["total_budget_thousand_yen"],
            row["published"],
        ) == values, name
        assert row["policy_id"] == "minato-2022"
        assert row["page_id"] == "565017"
        assert row["parse_status"] == "ok"
        assert row["source_sha256"] == in_place[name].sha256
        assert row["is_current"] is (name == SELFEVAL)
    assert rows[str(in_place[DRAFT].path)]["title"] == "令和4年度港区運営方針(案)"
    assert rows[str(in_place[FINAL].path)]["fetched_at"] == pd.Timestamp("2022-04-02 03:00Z")
    broken = rows[str(in_place["broken"].path)]
    assert broken["parse_status"] == "error"
    assert broken["policy_id"] == "minato-2022"  # from the manifest record
    assert broken["messages"]
    assert pd.isna(broken["n_issues"]) and pd.isna(broken["title"])


def test_current_paths_match_the_build(tmp_path: Path, in_place: dict[str, RawRecord]) -> None:
    result = run_build(tmp_path / "raw", tmp_path / "out", tmp_path / "cache")
    assert current_paths(result.tables["parse_report"]) == {in_place[SELFEVAL].path}
    assert result.tables["policies"]["total_budget_thousand_yen"].tolist() == [65_454]


# --- changes between versions of one page --------------------------------------------------

# (change, level, code, field, old_value, new_value, old 千円, new 千円), by hand.
DRAFT_TO_FINAL = [
    ("field_changed", "policy", None, "title", "令和4年度港区運営方針(案)", "令和4年度港区運営方針", None, None),
    ("field_changed", "policy", None, "draft", "true", "false", None, None),
    ("field_changed", "policy", None, "published", "2022-02-14", "2022-04-01", None, None),
    ("note_removed", "policy", None, "notes", DRAFT_NOTICE, None, None, None),
    ("budget_changed", "initiative", "1-2-2", "budget_thousand_yen", None, None, 33_000, 32_550),
    ("removed", "initiative", "5-1-2", None, None, None, 800, None),
    ("added", "initiative", "6-1-3", None, None, None, None, 482),
]  # fmt: skip
FINAL_TO_MIDYEAR = [
    ("field_changed", "policy", None, "published", "2022-04-01", "2022-10-03", None, None),
    ("note_added", "policy", None, "notes", None, MID_NOTE, None, None),
    ("description_changed", "strategy", "2-2", "description", "*", "*", None, None),
    (
        "retitled", "initiative", "4-2-1", "title",
        "子育て支援機関との連携強化・子育て支援情報の充実",
        "子育て支援機関との連携強化・子育て情報発信の充実",
        None, None,
    ),
    ("budget_changed", "initiative", "5-2-1", "budget_thousand_yen", None, None, 6_004, 5_500),
]  # fmt: skip
MIDYEAR_TO_SELFEVAL = [
    ("field_changed", "policy", None, "published", "2022-10-03", "2023-06-09", None, None),
    ("note_added", "policy", None, "notes", None, SELF_NOTE, None, None),
]


def summary(change: Change | dict[str, object]) -> tuple[object, ...]:
    get = change.get if isinstance(change, dict) else lambda name: getattr(change, name)
    values = [
        get(name)
        for name in (
            "change",
            "level",
            "code",
            "field",
            "old_value",
            "new_value",
            "old_budget_thousand_yen",
            "new_budget_thousand_yen",
        )
    ]
    values = [None if pd.isna(v) else v for v in values]
    if values[0] == "description_changed":  # long texts: checked separately
        values[4:6] = ["*", "*"]
    return tuple(values)


def parsed(name: str) -> WardPolicy:
    return parse_page(VERSIONS_DIR / name)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (DRAFT, FINAL, DRAFT_TO_FINAL),
        (FINAL, MIDYEAR, FINAL_TO_MIDYEAR),
        (MIDYEAR, SELFEVAL, MIDYEAR_TO_SELFEVAL),
    ],
)
def test_diff_policies_between_fixture_versions(
    old: str, new: str, expected: list[tuple[object, ...]]
) -> None:
    assert [summary(c) for c in diff_policies(parsed(old), parsed(new))] == expected


def test_diff_details() -> None:
    changes = diff_policies(parsed(FINAL), parsed(MIDYEAR))
    described = next(c for c in changes if c.change == "description_changed")
    assert described.title == "防犯対策の強化" and described.issue_code == "2"
    assert described.old_value is not None and described.new_value is not None
    assert "青色防犯パトロールを強化する。" not in described.old_value
    assert "青色防犯パトロールを強化する。" in described.new_value
    budget = next(c for c in changes if c.change == "budget_changed")
    assert (budget.title, budget.issue_code) == ("港区エリア別活性化プランの推進", "5")
    assert diff_policies(parsed(FINAL), parsed(FINAL)) == []


def test_changes_table_in_place(tmp_path: Path, in_place: dict[str, RawRecord]) -> None:
    items = parse_versions(tmp_path / "raw", {str(in_place[SELFEVAL].path)})
    frame = changes_table(items)
    assert list(frame.columns) == CHANGES.names
    # The unparseable version is skipped: final is compared with mid-year directly.
    assert [summary(row) for row in frame.to_dict("records")] == (
        DRAFT_TO_FINAL + FINAL_TO_MIDYEAR + MIDYEAR_TO_SELFEVAL
    )
    assert frame["change_no"].tolist() == list(range(1, 15))
    assert set(frame["comparison"]) == {"version"}
    assert set(frame["policy_id"]) == {"minato-2022"}
    pairs = frame.drop_duplicates(["from_sha256", "to_sha256"])
    assert list(zip(pairs["from_sha256"], pairs["to_sha256"], strict=True)) == [
        (in_place[DRAFT].sha256, in_place[FINAL].sha256),
        (in_place[FINAL].sha256, in_place[MIDYEAR].sha256),
        (in_place[MIDYEAR].sha256, in_place[SELFEVAL].sha256),
    ]
    assert pairs["to_fetched_at"].tolist() == [
        pd.Timestamp("2022-04-02 03:00Z"),
        pd.Timestamp("2022-10-04 03:00Z"),
        pd.Timestamp("2023-06-10 03:00Z"),
    ]


def test_draft_page_against_final_page(tmp_path: Path) -> None:
    """The (案) on its own page: compared with the first final version of the final page."""
    raw = tmp_path / "raw"
    draft = text(DRAFT).replace("ページ番号:565017".encode(), "ページ番号:559850".encode())
    put(raw, draft, DRAFT_URL, at("2022-02-15"))
    put(raw, text(FINAL), URL, at("2022-04-02"))
    put(raw, text(MIDYEAR), URL, at("2022-10-04"))
    items = parse_versions(raw, set())
    assert [i.policy.page_id for i in items if i.policy] == ["559850", "565017", "565017"]
    frame = changes_table(items)
    rows = frame.to_dict("records")
    assert [r["comparison"] for r in rows] == ["draft_to_final"] * 7 + ["version"] * 5
    assert [summary(r) for r in rows] == DRAFT_TO_FINAL + FINAL_TO_MIDYEAR
    assert rows[0]["from_sha256"] == store.sha256_hex(draft)
    assert rows[0]["to_sha256"] == store.sha256_hex(text(FINAL))


# --- matching ------------------------------------------------------------------------------


def test_normalise_code() -> None:
    assert normalise_code("１－２") == "1-2"
    assert normalise_code(" 1 - 2 - 3 ") == "1-2-3"
    assert normalise_code("") is None and normalise_code(None) is None


def strategy(title: str, position: int, code: str | None = None) -> Strategy:
    return Strategy(code=code, position=position, title=title)


def test_uncoded_nodes_match_by_title_then_position() -> None:
    old = [strategy("A", 1), strategy("B", 2), strategy("C", 3)]
    # Inserted at the front: A, B, C keep matching by title although positions moved.
    new = [strategy("Z", 1), strategy("A", 2), strategy("B", 3), strategy("C", 4)]
    assert match_nodes(old, new) == ([(0, 1), (1, 2), (2, 3)], [], [0])
    # Retitled in place: paired by position.
    assert match_nodes(old, [strategy("A", 1), strategy("B2", 2), strategy("C", 3)]) == (
        [(0, 0), (1, 1), (2, 2)],
        [],
        [],
    )
    # Coded nodes never match by title: renumbered is removed + added.
    assert match_nodes([strategy("A", 1, "1-1")], [strategy("A", 1, "1-2")]) == ([], [0], [0])
    assert match_nodes([strategy("A", 1, "1-1")], [strategy("A", 1, "１－１")]) == (
        [(0, 0)],
        [],
        [],
    )


def test_diff_uncoded_strategies_r5() -> None:
    old = parse_page(FIXTURES / "pages" / "r5_minato.html")
    new = old.model_copy(deep=True)
    issue1, issue2, issue3 = new.issues
    issue1.strategies.insert(0, strategy("防災訓練の支援", 1))
    for position, item in enumerate(issue1.strategies, start=1):
        item.position = position
    issue2.strategies[1].title = "区民の主体的な健康づくりと食育の促進"
    issue3.strategies.pop(0)
    issue3.strategies[0].position = 1
    changes = diff_policies(old, new)
    assert [
        (c.change, c.level, c.issue_code, c.position, c.title, c.old_value) for c in changes
    ] == [
        ("added", "strategy", "1", 1, "防災訓練の支援", None),
        (
            "retitled",
            "strategy",
            "2",
            2,
            "区民の主体的な健康づくりと食育の促進",
            "区民の主体的な健康づくりの促進",
        ),
        ("removed", "strategy", "3", 1, "地域資源を活かしたまちの活性化", None),
    ]


def test_removed_issue_lists_its_children() -> None:
    old = parsed(FINAL)
    new = old.model_copy(deep=True)
    new.issues.pop()  # 経営課題6: strategy 6-1, initiative 6-1-3 (482千円)
    assert [summary(c) for c in diff_policies(old, new)] == [
        ("removed", "issue", "6", None, None, None, None, None),
        ("removed", "strategy", "6-1", None, None, None, None, None),
        ("removed", "initiative", "6-1-3", None, None, None, 482, None),
    ]


# --- the CLI view (osaka_unei.views.changes) ---------------------------------------------


def _records(frame: pd.DataFrame, policy_id: str, order: list[str]) -> list[dict[str, Any]]:
    """One policy's rows as the view reads them from SQLite: None for a missing value."""
    mine = frame[frame["policy_id"] == policy_id].sort_values(order)
    return mine.astype(object).where(mine.notna(), None).to_dict("records")


def render_changes(changes: pd.DataFrame, versions: pd.DataFrame, policy_id: str) -> str:
    view = changes_view(
        _records(versions, policy_id, ["fetched_at", "path"]),
        _records(changes, policy_id, ["change_no"]),
        policy_id,
    )
    console = Console(width=200, record=True, color_system=None)
    console.print(view)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def _row(out: str, *words: str) -> list[str]:
    line = next(line for line in out.splitlines() if all(word in line for word in words))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_render_changes(tmp_path: Path, in_place: dict[str, RawRecord]) -> None:
    items = parse_versions(tmp_path / "raw", {str(in_place[SELFEVAL].path)})
    out = render_changes(changes_table(items), versions_table(items), "minato-2022")
    lines = out.splitlines()
    assert lines[0] == "minato-2022: 5 stored versions"
    assert "66,726 千円" in lines[1] and "(案)" in lines[1]
    assert "[error]" in lines[3]
    assert lines[5].endswith("← current")
    assert "version: fetched 2022-02-15 → 2022-04-02 (7 changes)" in out
    assert _row(out, "予算額変更", "1-2-2") == [
        "予算額変更",
        "具体的取組",
        "1-2-2",
        "地域課題解決に向けた取組の支援",
        "33,000 → 32,550 (-450)",
        "",
    ]
    assert _row(out, "削除", "5-1-2")[1:5] == ["具体的取組", "5-1-2", "港区の魅力発信", "800"]
    assert _row(out, "追加", "6-1-3")[3:5] == ["区民の参画と協働による区政運営", "482"]
    assert _row(out, "予算額変更", "5-2-1")[4] == "6,004 → 5,500 (-504)"
    assert _row(out, "項目変更", "draft")[1:] == ["運営方針", "", "", "", "draft: true → false"]
    assert _row(out, "名称変更", "4-2-1")[5].startswith("子育て支援機関")
    assert "version: fetched 2022-10-04 → 2023-06-10 (2 changes)" in out
    assert render_changes(changes_table(items), versions_table(items), "kita-2019") == (
        "kita-2019: no stored version."
    )


def test_render_one_version_and_no_difference(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    put(raw, text(FINAL), URL, at("2022-04-02"))
    items = parse_versions(raw, set())
    out = render_changes(changes_table(items), versions_table(items), "minato-2022")
    assert out.splitlines()[0] == "minato-2022: 1 stored version"
    assert out.splitlines()[-1] == "Only one version is stored: there is nothing to compare yet."
    # New bytes, same content (a trailing blank line): a version, but no change.
    put(raw, text(FINAL) + b"\n", URL, at("2022-05-02"))
    items = parse_versions(raw, set())
    assert changes_table(items).empty
    out = render_changes(changes_table(items), versions_table(items), "minato-2022")
    assert out.splitlines()[-1] == "No differences between the stored versions' parsed content."


# --- specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [VERSIONS, CHANGES], ids=lambda s: s.name)
def test_specs_are_described_and_keyed(spec: TableSpec) -> None:
    assert spec.ja and spec.en
    for column in spec.columns:
        assert column.ja and column.en, column.name
    assert set(spec.key) <= set(spec.names)


def test_versions_table_refuses_a_record_without_file() -> None:
    record = RawRecord(url=URL, fetched_at=at("2022-04-02"), outcome="failed")
    with pytest.raises(ValueError, match="stored file"):
        versions_table([VersionInput(record, None, False)])
