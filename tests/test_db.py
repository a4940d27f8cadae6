"""The SQLite database: types, keys, foreign keys, views, determinism, bigram search."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from osaka_unei.dataset.checks import CheckError
from osaka_unei.dataset.flatten import Source, flatten
from osaka_unei.dataset.flatten import make_tables as export_make_tables
from osaka_unei.dataset.load import load
from osaka_unei.dataset.tables import TABLES, Column, TableSpec
from osaka_unei.db import fts
from osaka_unei.db.search import search
from osaka_unei.db.sqlite import FOREIGN_KEYS, _converter, sql_rows, write_database
from osaka_unei.views.search import highlight, hits_table

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SPECS = {spec.name: spec for spec in TABLES}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return load(processed_dir=ROOT / "data" / "processed")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def db(tables: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "osaka_unei.db"
    write_database(path, tables, TABLES)
    return path


def fixture_tables() -> dict[str, pd.DataFrame]:
    """Every parseable fixture page and seed as tables, one policy per file (policy_id = the
    file's name, so pages of the same ward and year do not collide)."""
    from osaka_unei.parse import PageError, parse_page

    files = sorted((FIXTURES / "pages").glob("*.html")) + sorted(
        [*(FIXTURES / "pages").glob("*.txt"), *(FIXTURES / "seeds").glob("*.txt")]
    )
    flattened = []
    for file in files:
        try:
            policy = parse_page(file)
        except PageError:
            continue
        source = Source(None, "capture", "0" * 64, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        rows = flatten(policy, source)
        pid = f"{file.parent.name}/{file.name}"
        for table_rows in rows.values():
            for row in table_rows:
                row["policy_id"] = pid
        flattened.append(rows)
    assert len(flattened) >= 12
    return export_make_tables(flattened, [])


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


# --- schema and values -----------------------------------------------------------------


def test_every_table_has_the_spec_columns_types_and_key(db: Path) -> None:
    conn = connect(db)
    sql_type_of = {
        "string": "TEXT",
        "integer": "INTEGER",
        "boolean": "INTEGER",
        "date": "TEXT",
        "datetime": "TEXT",
    }
    for spec in TABLES:
        info = conn.execute(f"PRAGMA table_info({spec.name})").fetchall()
        assert [row[1] for row in info] == spec.names
        for row, column in zip(info, spec.columns, strict=True):
            assert row[2] == sql_type_of[column.kind], row
            assert bool(row[3]) == column.required, row
        assert [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]] == list(spec.key)


def test_values_are_stored_with_sqlite_types(db: Path) -> None:
    conn = connect(db)
    row = conn.execute(
        "SELECT draft, typeof(draft), published, fetched_at, fiscal_year, typeof(fiscal_year),"
        " total_budget_thousand_yen FROM policies WHERE policy_id = 'minato-2022'"
    ).fetchone()
    # The page: 令和4年度港区運営方針, dated 2024年3月13日, not a draft.
    assert row[:2] == (0, "integer")
    assert row[2] == "2024-03-13"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", row[3])
    assert row[4:6] == (2022, "integer")
    kinds = conn.execute(
        "SELECT DISTINCT typeof(is_main), typeof(amount_thousand_yen) FROM budgets"
    ).fetchall()
    assert ("integer", "integer") in kinds
    assert {k[0] for k in kinds} == {"integer"}
    # 【主な具体的取組 4-2-1 子育て支援機関との連携強化・子育て支援情報の充実】 … (1,267千円)
    assert conn.execute(
        "SELECT title, budget_thousand_yen, budget_yen FROM initiatives"
        " WHERE policy_id = 'minato-2022' AND initiative_code = '4-2-1'"
    ).fetchone() == ("子育て支援機関との連携強化・子育て支援情報の充実", 1267, 1267000)


def test_row_counts_equal_the_frames(db: Path, tables: dict[str, pd.DataFrame]) -> None:
    conn = connect(db)
    for spec in TABLES:
        assert conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0] == len(
            tables[spec.name]
        )


def test_foreign_keys_hold_and_link_the_tree(db: Path) -> None:
    conn = connect(db)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    links = {
        (row[2], row[3], row[4])
        for row in conn.execute("PRAGMA foreign_key_list(initiatives)").fetchall()
    }
    assert ("strategies", "strategy_position", "position") in links
    assert ("policies", "policy_id", "policy_id") in links
    assert conn.execute("PRAGMA foreign_key_list(parse_report)").fetchall() == []
    # Budgets reach initiatives through four columns.
    budget_parents = {row[2] for row in conn.execute("PRAGMA foreign_key_list(budgets)")}
    assert budget_parents == {"policies", "issues", "strategies", "initiatives"}


def test_a_broken_parent_fails_the_write(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    broken = dict(tables)
    issues = tables["issues"]
    # Drop 港区's issue 4: its strategies 4-1, 4-2 and their initiatives lose their parent.
    broken["issues"] = issues[
        ~((issues["policy_id"] == "minato-2022") & (issues["issue_code"] == "4"))
    ]
    target = tmp_path / "x.db"
    with pytest.raises(CheckError, match="foreign keys"):
        write_database(target, broken, TABLES)
    assert not target.exists()


def test_an_unknown_table_gets_its_key_and_no_foreign_key(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    themes = TableSpec(
        "themes",
        "テーマ",
        "themes",
        (
            Column("policy_id", "string", "運営方針ID", "policy id", required=True),
            Column("theme", "string", "テーマ", "theme", required=True),
            Column("score", "integer", "点", "score"),
        ),
        ("policy_id", "theme"),
    )
    frame = pd.DataFrame(
        {"policy_id": ["kita-2019", "nope-1"], "theme": ["防災", "子育て"], "score": [1, None]}
    ).astype({"score": "Int64"})
    path = tmp_path / "t.db"
    write_database(path, {**tables, "themes": frame}, (*TABLES, themes))
    conn = connect(path)
    info = conn.execute("PRAGMA table_info(themes)").fetchall()
    assert [(r[1], r[2], r[5]) for r in info] == [
        ("policy_id", "TEXT", 1),
        ("theme", "TEXT", 2),
        ("score", "INTEGER", 0),
    ]
    assert conn.execute("PRAGMA foreign_key_list(themes)").fetchall() == []
    assert conn.execute("SELECT * FROM themes ORDER BY theme").fetchall() == [
        ("nope-1", "子育て", None),
        ("kita-2019", "防災", 1),
    ]
    # Foreign keys are data: the one from themes names theme_codebook, not written here.
    assert all(fk.parent == "theme_codebook" for fk in FOREIGN_KEYS if fk.child == "themes")


def test_views(db: Path, tables: dict[str, pd.DataFrame]) -> None:
    conn = connect(db)
    assert conn.execute("SELECT count(*) FROM initiatives_full").fetchone()[0] == len(
        tables["initiatives"]
    )
    # 東住吉区: 【経営課題2】…, 【戦略2-1】 東住吉区防災力の強化, 【具体的取組2-1-2】地域の防災力強化(共助) 《1,240千円》
    row = conn.execute(
        "SELECT ward, ward_slug, fiscal_year, strategy_title, initiative_title,"
        " budget_thousand_yen FROM initiatives_full WHERE initiative_code = '2-1-2'"
        " AND ward_slug = 'higashisumiyoshi'"
    ).fetchone()
    assert row == (
        "東住吉区",
        "higashisumiyoshi",
        2020,
        "東住吉区防災力の強化",
        "地域の防災力強化(共助)",
        1240,
    )
    totals = dict(conn.execute("SELECT policy_id, n_initiatives FROM policy_totals").fetchall())
    assert totals == {
        "higashisumiyoshi-2020": 8,
        "kita-2019": 4,
        "minato-2022": 10,
        "nishi-2017": 6,
        "tsurumi-2022": 5,
    }


def test_same_tables_give_the_same_bytes(
    db: Path, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    again = tmp_path / "again.db"
    write_database(again, tables, TABLES)
    assert again.read_bytes() == db.read_bytes()
    # VACUUMed: no free pages.
    assert connect(db).execute("PRAGMA freelist_count").fetchone()[0] == 0


def test_durable_or_not_the_same_bytes(
    db: Path, tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    # The build leaves the fsync to publishing (durable=False): the bytes are the same.
    again = tmp_path / "again.db"
    write_database(again, tables, TABLES, durable=False)
    assert again.read_bytes() == db.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.db"]  # no journal, no temp file


def _cell_by_cell(spec: TableSpec, df: pd.DataFrame) -> list[tuple[object, ...]]:
    """The reference: each cell through _converter (pd.isna → None), as rows."""
    converters = [_converter(c.kind) for c in spec.columns]
    frame = df[spec.names].astype(object)
    return [
        tuple(None if pd.isna(v) else f(v) for v, f in zip(row, converters, strict=True))
        for row in frame.itertuples(index=False, name=None)
    ]


def test_whole_columns_convert_as_each_cell_would() -> None:
    # Every kind, with nulls of every sort, and columns whose dtype is not the kind's.
    utc = dt.UTC
    spec = TableSpec(
        "t",
        "t",
        "t",
        (
            Column("i", "integer", "i", "i", required=True),
            Column("i_na", "integer", "i", "i"),
            Column("i_float", "integer", "i", "i"),
            Column("n", "number", "n", "n"),
            Column("n_int", "number", "n", "n"),
            Column("b", "boolean", "b", "b"),
            Column("b_na", "boolean", "b", "b"),
            Column("d", "date", "d", "d"),
            Column("ts", "datetime", "t", "t"),
            Column("s", "string", "s", "s"),
            Column("s_obj", "string", "s", "s"),
            Column("s_int", "string", "s", "s"),
        ),
        ("i",),
    )
    stamp = dt.datetime(2024, 4, 1, 9, 30, tzinfo=utc)
    df = pd.DataFrame(
        {
            "i": pd.array([1, 2, 3, 4], dtype="Int64"),
            "i_na": pd.array([None, 2, None, 2**40], dtype="Int64"),
            "i_float": [1.0, float("nan"), 3.0, 4.0],
            "n": [1.5, float("nan"), 0.0, -2.0],
            "n_int": pd.array([1, None, 3, 4], dtype="Int64"),
            "b": [True, False, True, False],
            "b_na": pd.array([True, None, False, None], dtype="boolean"),
            "d": [dt.date(2024, 4, 1), None, dt.datetime(2023, 1, 2, 3, 4), dt.date(2024, 4, 1)],
            "ts": pd.to_datetime(
                [stamp, None, stamp, stamp + dt.timedelta(microseconds=5)], utc=True
            ),
            "s": pd.array(["a", None, "", "防災"], dtype="str"),
            "s_obj": ["x", None, float("nan"), pd.NA],
            "s_int": [1, "b", None, 2.5],
        }
    )
    rows = list(sql_rows(spec, df))
    reference = _cell_by_cell(spec, df)
    assert rows == reference
    # The same Python types, so the same SQLite storage classes (1 == 1.0 == True in ==).
    assert [tuple(map(type, row)) for row in rows] == [tuple(map(type, r)) for r in reference]
    assert rows[0][8] == "2024-04-01T09:30:00Z" and rows[3][8] == "2024-04-01T09:30:00.000005Z"


# --- bigram tokens ------------------------------------------------------------------------


def test_bigram_tokens_and_queries() -> None:
    # 防 U+9632, 災 U+707D, 子 U+5B50, 育 U+80B2, て U+3066
    assert fts.bigram_tokens("防災") == "9632g707d 707dg"
    assert fts.bigram_tokens("") == fts.bigram_tokens(None) == ""
    assert fts.bigram_query("防災") == '"9632g707d"'
    assert fts.bigram_query("子育て") == '"5b50g80b2 80b2g3066"'
    assert fts.bigram_query("防") == '"9632g"*'
    assert fts.bigram_query("防災　子育て") == '"9632g707d" AND "5b50g80b2 80b2g3066"'
    assert fts.bigram_query("  ") == fts.NO_MATCH
    # NFKC and ASCII case: full-width Ｄ and V fold to dv.
    assert fts.bigram_query("ＤV") == fts.bigram_query("dv") == '"64g76"'
    # Quotes and FTS operators are just characters.
    assert fts.bigram_query('"a" OR') == '"22g61 61g22" AND "6fg72"'


def test_bigram_tokens_as_the_pairs_of_code_points() -> None:
    # bigram_tokens builds the string with one translate: the same as joining the pairs.
    lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    for text in ["a", "子育て支援", "ＡＢ ｱ・安(x)\n", "ΣΑ É\U0001f600K", "ﾊﾟ", "\udc80x"]:
        normal = unicodedata.normalize("NFKC", text).translate(lower)
        assert fts.normalize(text) == normal
        codes = [f"{ord(ch):x}" for ch in normal]
        assert fts.bigram_tokens(text) == " ".join(
            f"{a}g{b}" for a, b in zip(codes, [*codes[1:], ""], strict=True)
        )
    assert fts.bigram_column(["防災", None, "防災", ""]) == [
        "9632g707d 707dg",
        "",
        "9632g707d 707dg",
        "",
    ]


def test_match_spans_merge_overlaps() -> None:
    assert fts.match_spans("防災と防災力", "防災") == [(0, 2), (3, 5)]
    assert fts.match_spans("ああああ", "あああ") == [(0, 4)]
    assert fts.match_spans("ＤＶ被害", "dv") == [(0, 2)]


# --- search ------------------------------------------------------------------------------


def test_search_finds_titles_first(db: Path) -> None:
    hits = search(db, "防災")
    # Titles holding 防災 on the pages (by hand): 東住吉区 【戦略2-1】 東住吉区防災力の強化,
    # 【具体的取組2-1-2】地域の防災力強化(共助); 北区 【戦略1-1 地域防災】, 【具体的取組1-1-1
    # 防災対策事業】; 港区 【主な戦略 2-1 防災対策の強化】, 【主な具体的取組 2-1-1 地域防災の活動支援】.
    titled = {
        ("東住吉区", "2-1"),
        ("東住吉区", "2-1-2"),
        ("北区", "1-1"),
        ("北区", "1-1-1"),
        ("港区", "2-1"),
        ("港区", "2-1-1"),
    }
    assert {(h.ward, h.code) for h in hits[:6]} == titled
    assert all("防災" not in (h.title or "") for h in hits[6:])
    assert len(hits) > 6  # descriptions: 鶴見区 地域の自主防災力強化…
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    first = next(h for h in hits if h.code == "2-1-2")
    assert highlight(first.title, "防災") == "地域の[bold red]防災[/bold red]力強化(共助)"
    assert first.budget_thousand_yen == first.thousand_yen == 1240 and first.printed
    assert first.fiscal_year == 2020 and first.level == "initiative"


def test_search_filters_and_limits(db: Path) -> None:
    minato = search(db, "防災", ward="港区")
    assert {h.ward for h in minato} == {"港区"}
    assert {h.code for h in minato} >= {"2-1", "2-1-1"}
    assert search(db, "防災", ward="minato") == minato
    assert search(db, "防災", year=2019) == [h for h in search(db, "防災") if h.ward == "北区"]
    assert len(search(db, "区", limit=3)) == 3
    assert search(db, "") == []
    assert search(db, "存在しない語句") == []
    # Two words: both must occur.
    both = search(db, "子育て 支援")
    conn = connect(db)
    texts = [
        conn.execute(
            "SELECT title, description FROM nodes WHERE node_id = ?", (h.node_id,)
        ).fetchone()
        for h in both
    ]
    assert len(both) >= 5
    for title, description in texts:
        for word in ("子育て", "支援"):
            assert word in (title or "") or word in (description or "")
    # Not everything holding one of the words: 防災 nodes with 支援 but not 子育て are out.
    assert all("子育て" in f"{t}{d}" for t, d in texts)
    assert len(search(db, "支援", limit=500)) > len(both)


def test_hits_table(db: Path) -> None:
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(hits_table(search(db, "防災", ward="kita"), "防災"))
    text = console.export_text()
    assert "防災対策事業" in text and "北区" in text and "2 件" in text


# --- recall and precision against a LIKE scan --------------------------------------------


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def measure(path: Path) -> dict[str, int]:
    """Every 2-, 3- and 4-character substring of every indexed title, searched through the
    index and by a LIKE scan of the same texts; counts of queries and of (query, node) pairs."""
    conn = connect(path)
    conn.create_function("bigram_query", 1, fts.bigram_query)
    titles = [t for (t,) in conn.execute("SELECT title FROM nodes WHERE title IS NOT NULL")]
    queries = sorted(
        {t[i : i + n] for t in titles for n in (2, 3, 4) for i in range(len(t) - n + 1)}
    )
    found = expected = both = exact_queries = 0
    for query in queries:
        got = {
            r
            for (r,) in conn.execute(
                "SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH bigram_query(?)", (query,)
            )
        }
        like = {
            r
            for (r,) in conn.execute(
                "SELECT node_id FROM nodes WHERE title LIKE ?1 ESCAPE '\\'"
                " OR description LIKE ?1 ESCAPE '\\'",
                (_like(query),),
            )
        }
        found += len(got)
        expected += len(like)
        both += len(got & like)
        exact_queries += got == like
    return {
        "titles": len(titles),
        "queries": len(queries),
        "with_space": sum(any(ch.isspace() for ch in q) for q in queries),
        "with_ascii": sum(any(ch.isascii() for ch in q) for q in queries),
        "with_punctuation": sum(any(not ch.isalnum() for ch in q) for q in queries),
        "exact_queries": exact_queries,
        "pairs_fts": found,
        "pairs_like": expected,
        "pairs_both": both,
    }


def test_recall_and_precision_on_the_real_data(db: Path) -> None:
    figures = measure(db)
    print("real data:", figures)
    assert figures["queries"] > 1000
    assert figures["pairs_both"] == figures["pairs_like"]  # recall 100 %
    assert figures["pairs_both"] == figures["pairs_fts"]  # precision 100 %


def test_recall_and_precision_on_the_fixture_pages(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.db"
    write_database(path, fixture_tables(), TABLES)
    figures = measure(path)
    print("fixture pages:", figures)
    assert figures["queries"] > 2000
    assert figures["pairs_both"] == figures["pairs_like"]
    assert figures["pairs_both"] == figures["pairs_fts"]


def test_text_that_is_not_nfkc_is_found_by_its_nfkc_form(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    # The parser stores NFKC text; a table that did not would still be searchable: half-width
    # ｺﾐｭﾆﾃｨ and full-width ＮＰＯ are indexed as コミュニティ and npo (where LIKE differs); the title is shown as stored.
    changed = dict(tables)
    nodes = tables["nodes"].copy()
    first_issue = nodes.index[nodes["level"] == "issue"][0]
    nodes.loc[first_issue, "title"] = "ｺﾐｭﾆﾃｨとＮＰＯ"  # the search table is the node table
    changed["nodes"] = nodes
    path = tmp_path / "n.db"
    write_database(path, changed, TABLES)
    for query in ("コミュニティ", "ｺﾐｭ", "npo", "NPO", "ＮＰ"):
        assert "ｺﾐｭﾆﾃｨとＮＰＯ" in [h.title for h in search(path, query)], query
    assert (
        highlight(search(path, "npo", ward=nodes.loc[first_issue, "ward"])[0].title, "npo")
        == "ｺﾐｭﾆﾃｨと[bold red]ＮＰＯ[/bold red]"  # same length: the stored text, marked
    )
