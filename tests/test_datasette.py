"""Datasette metadata from the column specs, and a real Datasette serving the database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from osaka_unei.dataset.load import load
from osaka_unei.dataset.tables import TABLES
from osaka_unei.db.datasette import DATABASE_FILE, PLUGINS_DIR, datasette_metadata
from osaka_unei.db.sqlite import write_database

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # seconds for Datasette to answer


def test_metadata_describes_every_column_from_the_specs() -> None:
    meta = datasette_metadata(TABLES)
    json.dumps(meta)  # serialisable as metadata.json
    assert meta["source_url"] == "https://www.city.osaka.lg.jp/"
    assert meta["license"].startswith("MIT")
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
    assert tables["nodes"]["facets"] == ["ward", "fiscal_year", "level"]
    assert tables["nodes_fts"] == {"hidden": True}
    assert tables["initiatives_full"]["columns"]["strategy_title"] == "戦略の名称 / strategy title"
    assert "bigram_query(:q)" in meta["databases"]["osaka_unei"]["queries"]["search_nodes"]["sql"]


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("datasette")
    db = folder / DATABASE_FILE
    write_database(db, load(processed_dir=ROOT / "data" / "processed"), TABLES)  # type: ignore[arg-type]
    metadata = folder / "metadata.json"
    metadata.write_text(json.dumps(datasette_metadata(TABLES), ensure_ascii=False), "utf-8")
    port = _free_port()
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metadata",
            str(metadata),
            "--plugins-dir",
            str(PLUGINS_DIR),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"datasette exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("datasette did not answer in time")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


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
