"""The build: flattening, totals, checks, outputs, cache, report rows, add-capture, seeds."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei import capture, store
from osaka_unei.cli import app
from osaka_unei.dataset import datapackage, files, flatten
from osaka_unei.dataset import tables as table_specs
from osaka_unei.dataset.checks import CheckError, check_tables
from osaka_unei.dataset.flatten import Source
from osaka_unei.dataset.load import load
from osaka_unei.dataset.nodes import policy_total
from osaka_unei.models import (
    Budget,
    Initiative,
    Issue,
    RawRecord,
    Reform,
    Strategy,
    WardPolicy,
)
from osaka_unei.parse import PageError
from osaka_unei.publish import run
from osaka_unei.wards import WARD_ORDER

ROOT = Path(__file__).resolve().parents[1]
T0 = dt.datetime(2024, 4, 1, 9, 0, tzinfo=dt.UTC)
SOURCE = Source(url=None, source_kind="fetched", sha256="0" * 64, fetched_at=T0)


def money(amount: int | None, *, main: bool = True) -> Budget:
    raw = "-" if amount is None else f"{amount:,}千円"
    return Budget(
        label="予算額",
        fiscal_year=2022,
        amount_thousand_yen=amount,
        raw=raw,
        kind="budget",
        is_main=main,
    )


def initiative(code: str, position: int, amount: int | None = None) -> Initiative:
    budgets = [money(amount)] if amount is not None else []
    return Initiative(
        code=code,
        position=position,
        title=f"取組{code}",
        budget_thousand_yen=amount,
        budgets=budgets,
    )


def policy(
    slug: str = "minato",
    year: int = 2022,
    issues: list[Issue] | None = None,
    *,
    draft: bool = False,
    published: dt.date | None = dt.date(2022, 4, 1),
    warnings: list[str] | None = None,
) -> WardPolicy:
    ward = {"minato": "港区", "kita": "北区", "nishi": "西区"}[slug]
    return WardPolicy(
        title=f"令和{year - 2018}年度{ward}運営方針" + ("(案)" if draft else ""),
        ward=ward,
        ward_slug=slug,
        fiscal_year=year,
        fiscal_year_label=f"令和{year - 2018}年度",
        draft=draft,
        published=published,
        page_id="565017",
        url=None,
        goal="目標",
        mission=None,
        basic_policy=None,
        issues=issues if issues is not None else simple_issues(),
        reforms=[Reform(plan="市政改革プラン3.1", code=None, title="改革", contents=["a", "b"])],
        warnings=warnings or [],
        source_format="text",
        source_sha256="0" * 64,
    )


def simple_issues(n: int = 1) -> list[Issue]:
    return [
        Issue(
            code="1",
            position=1,
            title="課題",
            strategies=[
                Strategy(
                    code="1-1",
                    position=1,
                    title="戦略",
                    initiatives=[initiative(f"1-1-{k}", k, 100 * k) for k in range(1, n + 1)],
                )
            ],
        )
    ]


def tables_of(*policies: WardPolicy) -> dict[str, pd.DataFrame]:
    return flatten.make_tables([flatten.flatten(p, SOURCE) for p in policies], [])


# --- flattening and totals ---------------------------------------------------------------


def test_total_counts_parent_amount_only_without_child_amounts() -> None:
    issues = [
        # issue amount ignored: a descendant carries one; strategy 1-1 likewise.
        Issue(
            code="1",
            position=1,
            title="a",
            budget_thousand_yen=9999,
            strategies=[
                Strategy(
                    code="1-1",
                    position=1,
                    title="s",
                    budget_thousand_yen=5000,
                    initiatives=[initiative("1-1-1", 1, 30), initiative("1-1-2", 2)],
                ),
                # no initiative amount: the strategy's own counts
                Strategy(
                    code="1-2",
                    position=2,
                    title="t",
                    budget_thousand_yen=700,
                    initiatives=[initiative("1-2-1", 1)],
                ),
            ],
        ),
        # nothing below: the issue's own amount counts
        Issue(code="2", position=2, title="b", budget_thousand_yen=4000),
        Issue(code="3", position=3, title="c"),
    ]
    assert policy_total(policy(issues=issues)) == 30 + 700 + 4000


def test_total_is_null_when_no_amount_anywhere() -> None:
    p = policy(issues=[Issue(code="1", position=1, title="a")])
    assert policy_total(p) is None
    frame = tables_of(p)["policies"]
    assert frame["total_budget_thousand_yen"].isna().all()


def test_flatten_rows_dtypes_and_budget_yen() -> None:
    issues = simple_issues(2)
    issues[0].strategies[0].initiatives.append(initiative("1-1-3", 3))  # no amount
    tables = tables_of(policy(issues=issues))
    ini = tables["initiatives"]
    assert ini["budget_thousand_yen"].tolist()[:2] == [100, 200]
    assert ini["budget_thousand_yen"].isna().tolist() == [False, False, True]
    assert str(ini["budget_thousand_yen"].dtype) == "Int64"
    assert str(ini["budget_yen"].dtype) == "Int64"
    assert ini["budget_yen"].tolist()[:2] == [100_000, 200_000]
    pol = tables["policies"].iloc[0]
    assert pol["policy_id"] == "minato-2022"
    assert (pol["n_issues"], pol["n_strategies"], pol["n_initiatives"]) == (1, 1, 3)
    assert pol["total_budget_thousand_yen"] == 300
    assert isinstance(pol["published"], dt.date)
    assert str(tables["policies"]["fetched_at"].dtype) == "datetime64[us, UTC]"
    assert tables["reforms"]["contents"].tolist() == ["a\nb"]
    budgets = tables["budgets"]
    assert budgets["level"].unique().tolist() == ["initiative"]
    assert budgets["code"].tolist() == ["1-1-1", "1-1-2"]
    assert budgets["budget_no"].tolist() == [1, 2]
    for name, spec in zip(table_specs.TABLE_NAMES, table_specs.TABLES, strict=True):
        assert list(tables[name].columns) == spec.names
    check_tables(tables, [])


# --- checks ------------------------------------------------------------------------------


def _bad(tables: dict[str, pd.DataFrame], name: str, edit: Any) -> dict[str, pd.DataFrame]:
    changed = dict(tables)
    frame = tables[name].copy()
    edit(frame)
    changed[name] = frame
    return changed


@pytest.mark.parametrize(
    ("name", "edit", "check"),
    [
        ("initiatives", lambda f: f.loc.__setitem__((1, "position"), 1), "unique key"),
        (
            "initiatives",
            lambda f: f.loc.__setitem__((0, "budget_thousand_yen"), -5),
            "non-negative",
        ),
        ("budgets", lambda f: f.loc.__setitem__((0, "amount_thousand_yen"), -1), "non-negative"),
        ("policies", lambda f: f.loc.__setitem__((0, "ward_slug"), "atlantis"), "ward slugs"),
        ("strategies", lambda f: f.loc.__setitem__((0, "strategy_code"), "2-1"), "codes"),
        ("initiatives", lambda f: f.loc.__setitem__((0, "initiative_code"), "1-2-1"), "codes"),
        ("initiatives", lambda f: f.loc.__setitem__((0, "strategy_position"), 7), "parents"),
        ("issues", lambda f: f.loc.__setitem__((0, "policy_id"), "kita-2022"), "parents"),
        ("policies", lambda f: f.loc.__setitem__((0, "n_initiatives"), 9), "counts"),
        ("budgets", lambda f: f.loc.__setitem__((0, "level"), "ward"), "values"),
    ],
)
def test_checks_fail_on_bad_frames(name: str, edit: Any, check: str) -> None:
    tables = tables_of(policy(issues=simple_issues(2)))
    with pytest.raises(CheckError, match=f"^{check}"):
        check_tables(_bad(tables, name, edit), [])


def test_check_requires_every_raw_file_in_report() -> None:
    with pytest.raises(CheckError, match=r"^parse report"):
        check_tables(tables_of(policy()), ["kita/1-abc.txt"])


# --- serialisation -----------------------------------------------------------------------


def test_csv_has_bom_iso_times_and_empty_nulls() -> None:
    tables = tables_of(policy(published=None))
    data = files.csv_bytes(table_specs.POLICIES, tables["policies"])
    assert data.startswith(b"\xef\xbb\xbfpolicy_id,")
    text = data.decode("utf-8-sig")
    assert "2024-04-01T09:00:00Z" in text
    assert "港区" in text
    back = pd.read_csv(__import__("io").StringIO(text))
    assert pd.isna(back.loc[0, "published"])
    assert back.loc[0, "draft"] == False  # noqa: E712 - "false" reads back as a bool


def test_parquet_round_trip_keeps_dtypes(tmp_path: Path) -> None:
    tables = tables_of(policy(issues=[Issue(code="1", position=1, title="a")]))
    for spec in table_specs.TABLES:
        (tmp_path / f"{spec.name}.parquet").write_bytes(
            files.parquet_bytes(spec, tables[spec.name])
        )
    pol = pd.read_parquet(tmp_path / "policies.parquet")
    assert str(pol["total_budget_thousand_yen"].dtype) == "Int64"
    assert pol["total_budget_thousand_yen"].isna().all()
    assert isinstance(pol.loc[0, "published"], dt.date)
    assert str(pol["fetched_at"].dtype) == "datetime64[us, UTC]"
    assert str(pd.read_parquet(tmp_path / "initiatives.parquet")["budget_yen"].dtype) == "Int64"
    with pytest.raises(FileNotFoundError, match="run `make all`"):
        load(processed_dir=tmp_path)  # no datapackage.json: not a build
    (tmp_path / "datapackage.json").write_text(
        json.dumps(datapackage.datapackage()), encoding="utf-8"
    )
    loaded = load(processed_dir=tmp_path)
    assert isinstance(loaded, dict) and set(loaded) == set(table_specs.TABLE_NAMES)
    # load() gives dates as datetime64, plain read_parquet as datetime.date objects
    assert str(loaded["policies"]["published"].dtype).startswith("datetime64")
    # ... and `ward` as a Categorical in the city's order (北区 first), values unchanged
    wards = pd.Categorical(pol["ward"], categories=list(WARD_ORDER), ordered=True)
    assert list(wards.categories[:2]) == ["北区", "都島区"]
    pd.testing.assert_frame_equal(
        load("policies", tmp_path),
        pol.assign(published=pd.to_datetime(pol["published"]), ward=wards),
    )
    with pytest.raises(ValueError, match="unknown table"):
        load("nope", tmp_path)


def test_datapackage_describes_every_column() -> None:
    package = datapackage.datapackage()
    resources = {r["name"]: r for r in package["resources"]}
    assert list(resources) == list(table_specs.TABLE_NAMES)
    for spec in table_specs.TABLES:
        fields = resources[spec.name]["schema"]["fields"]
        assert [f["name"] for f in fields] == spec.names
        assert all(" / " in f["description"] and f["title"] for f in fields)
    budget = next(
        f
        for f in resources["initiatives"]["schema"]["fields"]
        if f["name"] == "budget_thousand_yen"
    )
    assert budget["unit"] == "千円"
    assert resources["issues"]["schema"]["foreignKeys"][0]["reference"]["resource"] == "policies"
    assert package["sources"][0]["path"] == "https://www.city.osaka.lg.jp/"


# --- the build run, with a stand-in parser ---------------------------------------------
# A raw "page" here is a WardPolicy as JSON, so each test states exactly what the parser
# returns; b"BAD" pages raise PageError.


class FakeParser:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path, url: str | None, charset: str | None) -> WardPolicy:
        self.calls.append(path)
        data = path.read_bytes()
        if data.startswith(b"BAD"):
            raise PageError("not a ward 運営方針 page")
        return WardPolicy.model_validate_json(data).model_copy(update={"url": url})


def url_of(slug: str, page: int) -> str:
    return f"https://www.city.osaka.lg.jp/{slug}/page/{page:010d}.html"


def put(
    raw_dir: Path, url: str, data: bytes | WardPolicy, at: dt.datetime = T0, page: str = "1"
) -> str:
    body = data.model_dump_json().encode() if isinstance(data, WardPolicy) else data
    slug = url.split("/")[3]
    path = store.store_version(raw_dir, slug, page, body, "html")
    record = RawRecord(
        url=url,
        fetched_at=at,
        sha256=store.sha256_hex(body),
        size=len(body),
        outcome="fetched",
        path=path,
        ward_slug=slug,
        page_id=page,
    )
    store.append_manifest(raw_dir, [record])
    return path


def build(tmp_path: Path, parser: FakeParser, **options: Any) -> run.BuildResult:
    return run.run_build(
        tmp_path / "raw", tmp_path / "out", tmp_path / "cache", parse=parser, **options
    )


def report(result: run.BuildResult) -> dict[str, tuple[str, str | None]]:
    frame = result.tables["parse_report"]
    return {
        row.path: (row.status, None if pd.isna(row.messages) else row.messages)
        for row in frame.itertuples()
    }


def test_build_is_deterministic_and_cached(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    put(raw, url_of("minato", 565017), policy(), page="565017")
    put(raw, url_of("kita", 466843), policy("kita", 2019), page="466843")
    parser = FakeParser()
    first = build(tmp_path, parser)
    assert (first.parsed, first.cached) == (2, 0)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "out").iterdir()}
    assert set(files) >= {f"{n}.{e}" for n in table_specs.TABLE_NAMES for e in ("csv", "parquet")}
    assert {"datapackage.json", "build_stats.json"} <= set(files)

    second = build(tmp_path, parser)
    assert (second.parsed, second.cached, second.written) == (0, 2, [])
    assert len(parser.calls) == 2  # the cache answered: no parsing work
    assert files == {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "out").iterdir()
    }

    # A forced rebuild from scratch into another folder gives the same bytes.
    again = run.run_build(
        raw, tmp_path / "out2", tmp_path / "cache2", force=True, parse=FakeParser()
    )
    assert again.parsed == 2
    for name, (data, _) in files.items():
        if name == "build_stats.json":  # says when each build changed the data: not the same
            stats = json.loads((tmp_path / "out2" / name).read_bytes())
            assert stats["rows"] == json.loads(data)["rows"]
            assert stats["built_at"] >= json.loads(data)["built_at"]
            continue
        if name == "datapackage.json":  # names the build: its id and build_stats.json's hash
            packages = [json.loads(d) for d in (data, (tmp_path / "out2" / name).read_bytes())]
            for package in packages:
                del package["build"]["id"], package["build"]["files"]["build_stats.json"]
            assert packages[0] == packages[1]
            continue
        assert (tmp_path / "out2" / name).read_bytes() == data, name


def test_final_page_supersedes_draft_and_old_versions(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    draft_url, final_url = url_of("minato", 600001), url_of("minato", 600002)
    draft = put(raw, draft_url, policy(draft=True, issues=simple_issues(1)), T0, "600001")
    final = put(
        raw, final_url, policy(issues=simple_issues(2)), T0 - dt.timedelta(days=1), "600002"
    )
    old = put(raw, url_of("kita", 1), policy("kita", 2019, simple_issues(1)), T0, "1")
    new = put(
        raw, url_of("kita", 1), policy("kita", 2019, simple_issues(3)), T0 + dt.timedelta(1), "1"
    )
    result = build(tmp_path, FakeParser())
    rows = report(result)
    assert rows[final] == ("ok", None)
    assert rows[draft][0] == "superseded" and "minato-2022" in str(rows[draft][1])
    assert rows[new] == ("ok", None)
    assert rows[old][0] == "superseded" and str(rows[old][1]).startswith("older version of")
    pol = result.tables["policies"].set_index("policy_id")
    assert pol.loc["minato-2022", "url"] == final_url
    assert pol.loc["minato-2022", "draft"] == False  # noqa: E712
    assert pol.loc["kita-2019", "n_initiatives"] == 3
    assert result.count("superseded") == 2


def test_errors_missing_and_unlisted_files_are_reported(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    ok = put(raw, url_of("minato", 2), policy(warnings=["w1", "w2"]), page="2")
    bad = put(raw, url_of("kita", 3), b"BAD page", page="3")
    gone = put(raw, url_of("nishi", 4), policy("nishi", 2017), page="4")
    (raw / gone).unlink()
    (raw / "nishi" / "stray.html").write_bytes(b"<html></html>")
    result = build(tmp_path, FakeParser())
    rows = report(result)
    assert rows[ok] == ("warning", "w1 | w2")
    assert rows[bad] == ("error", "not a ward 運営方針 page")
    assert rows[gone] == ("error", "missing file")
    assert rows["nishi/stray.html"] == ("error", "not in manifest")
    assert result.tables["policies"]["policy_id"].tolist() == ["minato-2022"]
    # the PageError is cached too: a rebuild parses nothing
    parser = FakeParser()
    assert build(tmp_path, parser).parsed == 0 and parser.calls == []


def test_shrinking_ward_fails_and_keeps_previous_tables(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    url = url_of("minato", 5)
    put(raw, url, policy(issues=simple_issues(3)), T0, "5")
    build(tmp_path, FakeParser())
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    put(raw, url, policy(issues=simple_issues(2)), T0 + dt.timedelta(days=1), "5")
    with pytest.raises(CheckError, match="ward minato lost rows in initiatives"):
        build(tmp_path, FakeParser())
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    result = build(tmp_path, FakeParser(), allow_shrink=True)
    assert len(result.tables["initiatives"]) == 2
    stats = json.loads((tmp_path / "out" / "build_stats.json").read_text())
    assert stats["rows"]["initiatives"] == {"minato": 2}


# --- add-capture -------------------------------------------------------------------------


def test_add_capture_stores_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    data = "ページの先頭です\n令和4年度港区運営方針\n".encode()
    record, added = capture.add_capture(
        raw, data, "http://www.city.osaka.lg.jp/minato/page/0000565017.html", T0
    )
    assert added
    assert record.url == "https://www.city.osaka.lg.jp/minato/page/0000565017.html"
    assert (record.outcome, record.source_kind, record.page_id) == ("capture", "capture", "565017")
    assert record.path == f"minato/565017-{store.sha256_hex(data)[:16]}.txt"
    assert (raw / record.path).read_bytes() == data
    again, added_again = capture.add_capture(raw, data, record.url, T0 + dt.timedelta(1))
    assert not added_again and again == record
    assert len(store.read_manifest(raw)) == 1
    _, same = capture.add_capture(
        raw, data, "https://www.city.osaka.lg.jp/minato/page/565017.html", T0
    )
    assert not same  # an unpadded page number names the same page
    with pytest.raises(ValueError, match="not a ward page address"):
        capture.add_capture(
            raw, data, "https://www.city.osaka.lg.jp/shimin/page/0000000001.html", T0
        )
    with pytest.raises(ValueError, match="empty"):
        capture.add_capture(raw, b"  \n", record.url, T0)


# --- the committed seeds, end to end through the CLI -------------------------------------


def test_seed_captures_build_to_the_acceptance_figures(tmp_path: Path) -> None:
    committed = ROOT / "data" / "raw"
    raw = tmp_path / "raw"
    # Only the seed captures: pages the fetcher stores later must not move these figures.
    captures = [r for r in store.read_manifest(committed) if r.source_kind == "capture"]
    assert len(captures) == 5
    for record in captures:
        assert record.path is not None
        (raw / record.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(committed / record.path, raw / record.path)
    store.append_manifest(raw, captures)
    args = ["build", "--raw-dir", str(raw), "--out-dir", str(tmp_path / "out")]
    args += ["--cache-dir", str(tmp_path / "cache")]
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("build: 5 pages parsed, 0 from cache, 0 warnings, 0 errors")
    tables = load(processed_dir=tmp_path / "out")
    assert isinstance(tables, dict)
    assert len(tables["initiatives"]) == 33
    assert tables["policies"]["total_budget_thousand_yen"].sum() == 328_822
    assert set(tables["policies"]["source_kind"]) == {"capture"}
    assert sorted(tables["policies"]["ward_slug"]) == [
        "higashisumiyoshi", "kita", "minato", "nishi", "tsurumi"
    ]  # fmt: skip
    again = runner.invoke(app, args)
    assert "0 pages parsed, 5 from cache" in again.output and "(0 files changed)" in again.output
