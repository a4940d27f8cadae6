"""Datasette metadata from the column specs, and a real Datasette serving the database."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from osaka_unei.dataset.datapackage import datapackage
from osaka_unei.dataset.load import load
from osaka_unei.dataset.tables import TABLES
from osaka_unei.db.datasette import DATABASE_FILE, PLUGINS_DIR, datasette_metadata
from osaka_unei.db.sqlite import write_database
from osaka_unei.publish.catalog import PUBLISHED_TABLES

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # seconds for Datasette to answer


def test_metadata_describes_every_column_from_the_specs() -> None:
    meta = datasette_metadata(TABLES)
    json.dumps(meta)  # serialisable as metadata.json
    assert meta["source_url"] == "https://www.city.osaka.lg.jp/"
    # The data licence is the city's, the code's is MIT (not "Data license: MIT").
    assert "大阪市" in meta["license"] and "MIT" not in meta["license"]
    assert meta["license_url"] == "https://www.city.osaka.lg.jp/"
    assert "MIT" in meta["about"] and meta["about_url"] == "https://opensource.org/licenses/MIT"
    tables = meta["databases"]["osaka_unei"]["tables"]
    for spec in TABLES:
        columns = tables[spec.name]["columns"]
        assert list(columns) == spec.names
        for column in spec.columns:
            assert columns[column.name].startswith(f"{column.ja} / {column.en}")
    initiatives = tables["initiatives"]
    assert "千円" in initiatives["columns"]["budget_thousand_yen"]
    assert initiatives["facets"] == ["ward", "fiscal_year"]
    assert "description" not in initiatives["sortable_columns"]
    assert "budget_thousand_yen" in initiatives["sortable_columns"]
    assert "INTEGER 0/1" in tables["policies"]["columns"]["draft"]
    assert "ISO 8601" in tables["policies"]["columns"]["published"]
    assert tables["budgets"]["facets"] == ["fiscal_year", "level", "kind"]
    assert tables["nodes"]["facets"] == ["ward", "fiscal_year", "level", {"themes": "themes"}]
    assert tables["nodes_fts"] == {"hidden": True}
    assert tables["initiatives_full"]["columns"]["strategy_title"] == "戦略の名称 / strategy title"
    assert "bigram_query(:q)" in meta["databases"]["osaka_unei"]["queries"]["search_nodes"]["sql"]
    # Datasette's own search box on nodes, through the bigram index.
    assert (tables["nodes"]["fts_table"], tables["nodes"]["fts_pk"]) == ("nodes_fts", "node_id")
    # What the cells plugin formats: the columns whose unit is 千円, per table and view.
    config = meta["plugins"]["osaka-unei"]
    assert config["thousand_yen"]["initiatives"] == ["budget_thousand_yen"]
    assert config["thousand_yen"]["policies"] == ["total_budget_thousand_yen"]
    assert "initiatives_budget_thousand_yen" in config["thousand_yen"]["policy_totals"]
    assert "budget_yen" not in config["query_columns"]  # 円, not 千円


def test_datapackage_licenses_are_the_two_statements() -> None:
    """Frictionless `licenses`: the texts are the city's, the code is MIT; the same two
    statements as Datasette's metadata."""
    licenses = datapackage()["licenses"]
    assert [entry.get("name") for entry in licenses] == [None, "MIT"]
    assert all(entry.get("path") and entry.get("title") for entry in licenses)
    meta = datasette_metadata(TABLES)
    assert [entry["title"] for entry in licenses] == [meta["license"], meta["about"]]
    assert "大阪市" in licenses[0]["title"] and "licenses_note" not in datapackage()


def test_published_metadata_names_themes_in_japanese() -> None:
    meta = datasette_metadata(PUBLISHED_TABLES)
    tables = meta["databases"]["osaka_unei"]["tables"]
    assert tables["theme_codebook"]["label_column"] == "name_ja"
    assert meta["plugins"]["osaka-unei"]["theme_names"]["children"] == "子育て・教育・青少年"


def test_metadata_without_the_tree_has_no_search() -> None:
    meta = datasette_metadata([spec for spec in TABLES if spec.name != "strategies"])
    database = meta["databases"]["osaka_unei"]
    assert "queries" not in database
    assert "nodes" not in database["tables"] and "initiatives_full" not in database["tables"]
    assert "policy_totals" in database["tables"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    stdout: Path  # the server's logs, as `make serve` would print them
    stderr: Path


def _serve(folder: Path, databases: list[Path], metadata: Path | None = None) -> Iterator[Server]:
    """Datasette as `make serve` runs it (our plugins), on a free port; stopped on exit."""
    port = _free_port()
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    command = [sys.executable, "-m", "datasette", "serve", *map(str, databases)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--plugins-dir", str(PLUGINS_DIR)]
    if metadata is not None:
        command += ["--metadata", str(metadata)]
    out, err = folder / "stdout.log", folder / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"datasette exited: {err.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("datasette did not answer in time")
            time.sleep(0.2)
        yield Server(base, out, err)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("datasette")
    db = folder / DATABASE_FILE
    tables = load(processed_dir=ROOT / "data" / "processed")
    write_database(db, tables, PUBLISHED_TABLES)  # type: ignore[arg-type]
    metadata = folder / "metadata.json"
    meta = datasette_metadata(PUBLISHED_TABLES)
    metadata.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    yield from _serve(folder, [db], metadata)


@pytest.fixture(scope="module")
def server(served: Server) -> str:
    return served.url


def _get(url: str) -> object:
    response = httpx.get(url, timeout=10.0)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_table(server: str) -> None:
    rows = _get(f"{server}/osaka_unei/policies.json?_shape=array")
    assert isinstance(rows, list)
    assert {row["policy_id"] for row in rows} == {
        "higashisumiyoshi-2020",
        "kita-2019",
        "minato-2022",
        "nishi-2017",
        "tsurumi-2022",
    }
    minato = next(row for row in rows if row["policy_id"] == "minato-2022")
    assert (minato["ward"], minato["fiscal_year"], minato["draft"]) == ("港区", 2022, 0)


def test_search_query(server: str) -> None:
    rows = _get(f"{server}/osaka_unei/search_nodes.json?_shape=array&q=防災&ward=&year=")
    assert isinstance(rows, list)
    titles = [row["title"] for row in rows]
    # The six titles with 防災 (see test_db) rank first, then description-only matches.
    assert all("防災" in t for t in titles[:6])
    assert len(titles) > 6 and not any("防災" in (t or "") for t in titles[6:])
    scoped = _get(f"{server}/osaka_unei/search_nodes.json?_shape=array&q=防災&ward=kita&year=")
    assert [(row["code"], row["title"]) for row in scoped] == [  # type: ignore[union-attr]
        ("1-1", "地域防災"),
        ("1-1-1", "防災対策事業"),
    ]


def test_facet(server: str) -> None:
    data = _get(f"{server}/osaka_unei/initiatives.json?_facet=ward")
    assert isinstance(data, dict)
    counts = {item["value"]: item["count"] for item in data["facet_results"]["ward"]["results"]}
    # Initiatives per ward (build_stats.json): 東住吉区 8, 北区 4, 港区 10, 西区 6, 鶴見区 5.
    assert counts == {"東住吉区": 8, "北区": 4, "港区": 10, "西区": 6, "鶴見区": 5}


def test_view_and_metadata_served(server: str) -> None:
    rows = _get(f"{server}/osaka_unei/policy_totals.json?_shape=array")
    assert isinstance(rows, list) and len(rows) == 5
    meta = _get(f"{server}/-/metadata.json")
    assert isinstance(meta, dict) and "search_nodes" in meta["databases"]["osaka_unei"]["queries"]


def test_amounts_read_as_thousand_yen_in_html_only(server: str) -> None:
    """港区 2022 1-2-2 prints 32,550千円: the page shows `32,550 千円`, the JSON the number."""
    query = "policy_id=minato-2022&initiative_code=1-2-2"
    page = httpx.get(f"{server}/osaka_unei/initiatives?{query}", timeout=10.0)
    assert page.status_code == 200
    assert "32,550 千円" in page.text
    rows = _get(f"{server}/osaka_unei/initiatives.json?{query}&_shape=array")
    assert [row["budget_thousand_yen"] for row in rows] == [32550]  # type: ignore[index]
    csv_text = httpx.get(f"{server}/osaka_unei/initiatives.csv?{query}", timeout=10.0).text
    assert ",32550," in csv_text and "千円" not in csv_text.splitlines()[1]
    # A view and the canned search query format their amounts too; a missing amount is —.
    full = httpx.get(f"{server}/osaka_unei/initiatives_full?{query}", timeout=10.0).text
    assert "32,550 千円" in full
    hits = httpx.get(f"{server}/osaka_unei/search_nodes?q=地域課題&ward=minato&year=", timeout=10.0)
    assert "32,550 千円" in hits.text
    empty = httpx.get(
        f"{server}/osaka_unei/initiatives?budget_thousand_yen__isnull=1", timeout=10.0
    )
    assert '<td class="col-budget_thousand_yen type-none">—</td>' in empty.text


def test_nodes_mark_a_summed_amount_and_name_themes(server: str) -> None:
    """東住吉区 2020 issue 2 prints no amount: 48,467 千円 is its strategies' sum, marked as
    every surface marks it; its themes are shown by name."""
    page = httpx.get(
        f"{server}/osaka_unei/nodes?policy_id=higashisumiyoshi-2020&node_key=2", timeout=10.0
    ).text
    assert '<span class="summed" title="下位項目の合計">48,467 千円 (計)</span>' in page
    assert "防災・防犯・交通安全" in page and "福祉・健康・高齢者・障がい" in page
    rows = _get(
        f"{server}/osaka_unei/nodes.json?policy_id=higashisumiyoshi-2020&node_key=2&_shape=array"
    )
    assert [(r["thousand_yen"], r["printed"], r["themes"]) for r in rows] == [  # type: ignore[union-attr]
        (48467, 0, "safety;welfare")
    ]


def test_licence_names_the_city_for_the_texts_and_mit_for_the_code(server: str) -> None:
    page = httpx.get(f"{server}/osaka_unei/policies", timeout=10.0).text
    data_licence = page.split("Data license:", 1)[1].split("</a>", 1)[0]
    assert "大阪市" in data_licence and "MIT" not in data_licence
    assert 'href="https://www.city.osaka.lg.jp/"' in data_licence
    about = page.split("About:", 1)[1].split("</a>", 1)[0]
    assert "MIT" in about and "https://opensource.org/licenses/MIT" in about


def test_search_box_on_nodes_uses_the_bigram_index(server: str) -> None:
    """`?_search=` on nodes finds what the canned query finds (a substring, as LIKE)."""
    searched = _get(f"{server}/osaka_unei/nodes.json?_search=防災&_shape=array&_size=max")
    assert isinstance(searched, list)
    canned = _get(f"{server}/osaka_unei/search_nodes.json?_shape=array&q=防災&ward=&year=")
    assert sorted(row["node_id"] for row in searched) == sorted(
        row["node_id"]
        for row in canned  # type: ignore[union-attr]
    )
    assert all("防災" in (row["title"] or "") + (row["description"] or "") for row in searched)
    two_words = _get(f"{server}/osaka_unei/nodes.json?_search=地域 防災&_shape=array")
    assert {row["title"] for row in two_words} >= {"地域防災"}  # type: ignore[union-attr]
    titles_only = _get(f"{server}/osaka_unei/nodes.json?_search_title=防災&_shape=array")
    assert titles_only and all("防災" in row["title"] for row in titles_only)  # type: ignore[union-attr]
    page = httpx.get(f"{server}/osaka_unei/nodes", timeout=10.0).text
    assert 'name="_search"' in page  # the search box is offered


def test_nodes_facet_by_theme_with_japanese_names(server: str) -> None:
    """nodes.themes (`safety;welfare`) is counted theme by theme, named, and filters."""
    data = _get(f"{server}/osaka_unei/nodes.json?_size=0")
    facet = data["facet_results"]["themes"]  # type: ignore[index]
    counts = {item["label"]: item["count"] for item in facet["results"]}
    rows = _get(f"{server}/osaka_unei/nodes.json?_shape=array&_size=max&themes__notblank=1")
    expected = {}
    names = datasette_metadata(PUBLISHED_TABLES)["plugins"]["osaka-unei"]["theme_names"]
    for row in rows:  # type: ignore[union-attr]
        for theme in row["themes"].split(";"):
            expected[names[theme]] = expected.get(names[theme], 0) + 1
    assert counts == expected and counts["防災・防犯・交通安全"] > 0
    safety = next(item for item in facet["results"] if item["value"] == "safety")
    chosen = httpx.get(safety["toggle_url"], timeout=10.0).json()
    assert chosen["filtered_table_rows_count"] == counts["防災・防犯・交通安全"]
    # No theme id is part of another, so `themes__contains=<id>` filters exactly.
    assert not any(a != b and a in b for a in names for b in names)


def test_theme_facet_shows_japanese_names(server: str) -> None:
    data = _get(f"{server}/osaka_unei/themes.json?_facet=theme")
    results = data["facet_results"]["theme"]["results"]  # type: ignore[index]
    labels = {item["value"]: item["label"] for item in results}
    assert labels["children"] == "子育て・教育・青少年"
    assert labels["safety"] == "防災・防犯・交通安全"


def _grown(path: Path, before: int, timeout: float = 5.0) -> bytes:
    """What was appended to a log since `before` bytes (waiting briefly for the write)."""
    deadline = time.monotonic() + timeout
    while path.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.read_bytes()[before:]


def test_errors_are_one_line_in_the_log(served: Server) -> None:
    """A POST to an unknown route was a 500 and 13–64 KB of traceback with local variables
    per error; now a POST is 405 and a server error is one line on stderr."""
    err_before, out_before = served.stderr.stat().st_size, served.stdout.stat().st_size
    for path in ("/osaka_unei/nope", "/osaka_unei/policies", "/osaka_unei/search_nodes", "/x/y"):
        response = httpx.post(f"{served.url}{path}", data={"a": "1"}, timeout=10.0)
        assert response.status_code == 405, path
    # A server error (Datasette cannot read a bad _timelimit): 500, one line.
    response = httpx.get(f"{served.url}/osaka_unei/policies.json?_timelimit=x", timeout=10.0)
    assert response.status_code == 500
    logged = _grown(served.stderr, err_before).decode()
    error_lines = [line for line in logged.splitlines() if "osaka-unei datasette: 500" in line]
    assert error_lines == [
        "osaka-unei datasette: 500 GET /osaka_unei/policies.json: "
        "ValueError: invalid literal for int() with base 10: 'x'"
    ]
    # A 404 and a bad SQL query: no traceback either.
    assert httpx.get(f"{served.url}/nope/x", timeout=10.0).status_code == 404
    bad_sql = "select " + "x" * 5000
    assert httpx.get(f"{served.url}/osaka_unei.json?sql={bad_sql}", timeout=10.0).status_code == 400
    time.sleep(0.2)  # let the access log lines land
    logs = served.stderr.read_bytes()[err_before:] + served.stdout.read_bytes()[out_before:]
    text = logs.decode()
    assert "Traceback" not in text and "locals" not in text and "│" not in text
    # Besides uvicorn's access line per request (which repeats the URL): one short line
    # per error (the 500, the SQL error), nothing else.
    lines = [line for line in text.splitlines() if not line.startswith("INFO:")]
    assert len(lines) == 2 and max(map(len, lines)) < 400, lines


# --- a running server follows a new build, whole ---------------------------------------

A_IDS = {"higashisumiyoshi-2020", "kita-2019", "minato-2022", "nishi-2017", "tsurumi-2022"}
B_IDS = {"kita-2019", "minato-2022"}
N_REQUESTS = 60  # during a publish; 12 concurrent
WORKERS = 12


def _build_b(a: Path, b: Path) -> None:
    """Build B: build A with three policies fewer (so that rows, count and facets differ)."""
    shutil.copyfile(a, b)
    conn = sqlite3.connect(b)
    try:
        marks = ",".join("?" * len(B_IDS))
        conn.execute(f"DELETE FROM policies WHERE policy_id NOT IN ({marks})", sorted(B_IDS))
        conn.commit()
        conn.execute("VACUUM")
    finally:
        conn.close()


def _which_build(url: str) -> str:
    """'A' or 'B' if rows, count and facet counts of one request all come from that build."""
    data = httpx.get(f"{url}/policies.json?_facet=ward&_size=max", timeout=10.0).json()
    ids = {row[0] for row in data["rows"]}
    count = data["filtered_table_rows_count"]
    facet = sum(item["count"] for item in data["facet_results"]["ward"]["results"])
    for name, expected in (("A", A_IDS), ("B", B_IDS)):
        if ids == expected and count == facet == len(expected):
            return name
    return f"mixed: {len(ids)} rows, count {count}, facets {facet}"


def _during(url: str, publish: object) -> list[tuple[float, str]]:
    """N_REQUESTS requests from WORKERS threads; `publish()` runs once a third are done.
    Returns (start time, answer) per request and, first, (time publish finished, "")."""
    done = threading.Semaphore(0)
    published: list[float] = []

    def one(_: int) -> tuple[float, str]:
        start = time.monotonic()
        answer = _which_build(url)
        done.release()
        return start, answer

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(one, i) for i in range(N_REQUESTS)]
        for _ in range(N_REQUESTS // 3):
            assert done.acquire(timeout=30)
        publish()  # type: ignore[operator]
        published.append(time.monotonic())
        answers = [future.result(timeout=60) for future in futures]
    return [(published[0], ""), *answers]


def test_a_running_server_switches_to_a_new_build_whole(tmp_path: Path) -> None:
    """Both ways a build is published: a database renamed over the served path, and the
    `data/processed` link swapped to a new build folder (the old one deleted). Every answer
    is wholly A or wholly B, and every request started after the publish answers B."""
    source = tmp_path / "a.sqlite"
    write_database(source, load(processed_dir=ROOT / "data" / "processed"), PUBLISHED_TABLES)  # type: ignore[arg-type]
    # Layout 1: a stable path, replaced by rename.
    stable = tmp_path / "stable" / DATABASE_FILE
    stable.parent.mkdir()
    shutil.copyfile(source, stable)
    # Layout 2: processed -> builds/a, swapped to builds/b.
    builds = tmp_path / "linked" / "builds"
    (builds / "a").mkdir(parents=True)
    shutil.copyfile(source, builds / "a" / DATABASE_FILE)
    processed = tmp_path / "linked" / "processed"
    processed.symlink_to(Path("builds") / "a")

    def rename_publish() -> None:
        staging = stable.parent / f".{DATABASE_FILE}-staging"
        _build_b(source, staging)
        os.replace(staging, stable)

    def link_publish() -> None:
        (builds / "b").mkdir()
        _build_b(source, builds / "b" / DATABASE_FILE)
        link = processed.parent / ".processed-new"
        link.symlink_to(Path("builds") / "b")
        os.replace(link, processed)
        shutil.rmtree(builds / "a")

    logs = tmp_path / "logs"
    logs.mkdir()
    # Datasette names the two files osaka_unei and osaka_unei_2.
    for server in _serve(logs, [stable, processed / DATABASE_FILE]):
        for database, publish in (("osaka_unei", rename_publish), ("osaka_unei_2", link_publish)):
            url = f"{server.url}/{database}"
            # Every SQL thread has read build A.
            with ThreadPoolExecutor(WORKERS) as pool:
                assert set(pool.map(_which_build, [url] * WORKERS)) == {"A"}
            answers = _during(url, publish)
            finished = answers[0][0]
            counts = {name: sum(1 for _, a in answers[1:] if a == name) for name in ("A", "B")}
            mixed = [a for _, a in answers[1:] if a not in ("A", "B")]
            late_a = [start for start, a in answers[1:] if a == "A" and start > finished]
            print(f"{database}: {counts}, mixed {len(mixed)}, A after the publish {len(late_a)}")
            assert not mixed, mixed
            assert not late_a, f"{len(late_a)} requests started after the publish answered A"
            assert counts["B"] > 0
            with ThreadPoolExecutor(WORKERS) as pool:
                after = list(pool.map(_which_build, [url] * WORKERS))
            assert set(after) == {"B"}, after


def _plugin(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"plugin_{name}", PLUGINS_DIR / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeDatasette:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def plugin_config(self, name: str) -> dict[str, Any]:
        assert name == "osaka-unei"
        return self.config


def test_cells_for_the_node_model() -> None:
    """The node model's columns (thousand_yen, printed, themes): the amount shown is
    formatted, a summed one marked as everywhere, themes named; the search shows them."""
    meta = datasette_metadata(PUBLISHED_TABLES)
    sql = meta["databases"]["osaka_unei"]["queries"]["search_nodes"]["sql"]
    assert "n.thousand_yen, n.printed" in sql
    config = meta["plugins"]["osaka-unei"]
    assert "thousand_yen" in config["thousand_yen"]["nodes"]
    assert config["theme_columns"] == {"nodes": ["themes"]}
    cells = _plugin("cells")
    datasette = _FakeDatasette(config)

    def render(column: str, row: dict[str, Any], table: str | None = "nodes") -> str | None:
        out = cells.render_cell(row, row[column], column, table, "osaka_unei", datasette)
        return None if out is None else str(out)

    assert render("thousand_yen", {"thousand_yen": 32550, "printed": 1}) == "32,550 千円"
    assert render("thousand_yen", {"thousand_yen": 1240, "printed": 0}) == (
        '<span class="summed" title="下位項目の合計">1,240 千円 (計)</span>'
    )
    assert render("thousand_yen", {"thousand_yen": None, "printed": None}) == "—"
    assert render("thousand_yen", {"thousand_yen": 5, "printed": 0}, table=None).endswith(
        "(計)</span>"
    )
    assert render("title", {"title": "<b>"}) is None  # Datasette's own (escaped) rendering
    themes = render("themes", {"themes": "children;safety"})
    assert (
        themes is not None and "子育て・教育・青少年" in themes and "防災・防犯・交通安全" in themes
    )
    assert render("themes", {"themes": None}) is None
