"""The raw store as the build reads it: a manifest is data (its paths stay inside the store,
a bad line is one error row), and what an interrupted write leaves is no page."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei import store
from osaka_unei.cli import app
from osaka_unei.models import RawRecord
from tests.test_export import T0, FakeParser, build, policy, put, report, url_of


def _record(url: str, path: str, slug: str = "minato") -> RawRecord:
    return RawRecord(url=url, fetched_at=T0, outcome="fetched", path=path, ward_slug=slug)


# --- manifest paths must stay inside the raw store ----------------------------------------


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink"])
def test_manifest_path_outside_the_store_is_not_read(tmp_path: Path, where: str) -> None:
    raw = tmp_path / "raw"
    ok = put(raw, url_of("minato", 1), policy(), page="1")
    secret = tmp_path / "secret.json"
    # A page the FakeParser would publish as kita-2019 if the build read it.
    secret.write_bytes(policy("kita", 2019).model_dump_json().encode())
    path = {
        "absolute": str(secret),
        "dotdot": "kita/../../secret.json",
        "symlink": "kita/link.json",
    }[where]
    if where == "symlink":
        (raw / "kita").mkdir()
        (raw / "kita" / "link.json").symlink_to(secret)
    store.append_manifest(raw, [_record(url_of("kita", 2), path, "kita")])
    parser = FakeParser()
    result = build(tmp_path, parser)
    rows = report(result)
    assert rows[path] == ("error", "path outside the raw store: not read")
    assert rows[ok] == ("ok", None)
    assert result.tables["policies"]["policy_id"].tolist() == ["minato-2022"]
    assert all(call.resolve() != secret.resolve() for call in parser.calls)


def test_outside_path_never_supersedes_a_stored_version(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    url = url_of("minato", 1)
    ok = put(raw, url, policy(), page="1")
    later = T0 + dt.timedelta(days=1)
    store.append_manifest(
        raw,
        [RawRecord(url=url, fetched_at=later, outcome="fetched", path="/etc/hostname")],
    )
    rows = report(build(tmp_path, FakeParser()))
    assert rows[ok] == ("ok", None)
    assert rows["/etc/hostname"][0] == "error"


def test_inside() -> None:
    root = Path("/data/raw")
    assert store.inside(root, "kita/1-abc.html") == root / "kita/1-abc.html"
    for bad in ("", "/etc/passwd", "../x", "kita/../../x", "kita\\..\\..\\x"):
        assert store.inside(root, bad) is None, bad


# --- a bad manifest line is an error row, the others go on --------------------------------


def test_bad_manifest_lines_are_error_rows(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    first = put(raw, url_of("minato", 1), policy(), page="1")
    with (raw / store.MANIFEST_NAME).open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write('{"url": "https://www.city.osaka.lg.jp/kita/page/0000000002.html"}\n')
    second = put(raw, url_of("kita", 3), policy("kita", 2019), page="3")
    manifest = store.load_manifest(raw)
    assert [r.path for r in manifest.records] == [first, second]
    assert [p.line for p in manifest.problems] == [2, 3]
    assert "fetched_at: Field required" in manifest.problems[1].reason
    result = build(tmp_path, FakeParser())
    rows = report(result)
    assert rows["manifest.jsonl:2"][0] == "error"
    assert str(rows["manifest.jsonl:2"][1]).startswith("manifest.jsonl line 2: ")
    assert rows["manifest.jsonl:3"] == (
        "error",
        "manifest.jsonl line 3: fetched_at: Field required",
    )
    assert sorted(result.tables["policies"]["policy_id"]) == ["kita-2019", "minato-2022"]


def test_read_manifest_skips_bad_lines(tmp_path: Path) -> None:
    """fetch and add-capture read the good lines and go on."""
    raw = tmp_path / "raw"
    first = put(raw, url_of("minato", 1), policy(), page="1")
    with (raw / store.MANIFEST_NAME).open("a", encoding="utf-8") as handle:
        handle.write("garbage\n")
    second = put(raw, url_of("kita", 3), policy("kita", 2019), page="3")
    assert [r.path for r in store.read_manifest(raw)] == [first, second]


def test_append_after_a_cut_line_keeps_the_new_record(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    put(raw, url_of("minato", 1), policy(), page="1")
    with (raw / store.MANIFEST_NAME).open("a", encoding="utf-8") as handle:
        handle.write('{"url": "https://www.city.osaka.lg.jp/kita/pa')  # killed mid-line
    second = put(raw, url_of("kita", 3), policy("kita", 2019), page="3")
    manifest = store.load_manifest(raw)
    assert [r.path for r in manifest.records][-1] == second
    assert [p.line for p in manifest.problems] == [2]


# --- temp files of an interrupted write ---------------------------------------------------


def test_interrupted_write_leaves_no_error_row(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    ok = put(raw, url_of("minato", 1), policy(), page="1")
    stale = raw / "minato" / ".1-0123456789abcdef.html.k3j2h1.tmp"
    fresh = raw / "minato" / ".1-fedcba9876543210.html.a1b2c3.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half a page")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    result = build(tmp_path, FakeParser())
    rows = report(result)
    assert list(rows) == [ok]
    assert not stale.exists()  # left by a killed write: removed
    assert fresh.exists()  # may be a running fetch's: left alone, and still no row
    again = report(build(tmp_path, FakeParser()))
    assert list(again) == [ok]


def test_cli_build_reports_bad_lines_and_publishes(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    put(raw, url_of("minato", 1), policy(), page="1")
    with (raw / store.MANIFEST_NAME).open("a", encoding="utf-8") as handle:
        handle.write("garbage\n")
    out = tmp_path / "out"
    # The stand-in parser reads JSON policies; the real one would reject them: both are rows.
    result = CliRunner().invoke(
        app, ["build", "--raw-dir", str(raw), "--out-dir", str(out), "--cache-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "manifest.jsonl:2: manifest.jsonl line 2:" in result.output
    frame = pd.read_parquet(out / "parse_report.parquet")
    assert set(frame["status"]) == {"error"}
    assert len(frame) == 2


def test_outside_paths_refuses_what_inside_refuses_resolving_each_folder_once(
    tmp_path: Path,
) -> None:
    root, away = tmp_path / "raw", tmp_path / "away"
    (root / "kita").mkdir(parents=True)
    away.mkdir()
    (away / "secret.html").write_text("x")
    (root / "kita" / "link.html").symlink_to(away / "secret.html")
    (root / "minato").symlink_to(away, target_is_directory=True)
    (root / "kita" / "1-abc.html").write_text("x")
    paths = [
        "kita/1-abc.html",
        "kita/2-new.html",  # not stored yet: inside all the same
        "kita/link.html",
        "minato/secret.html",
        "kita/../../away/secret.html",
        "/etc/passwd",
        "kita\\1.html",
        "",
    ]
    refused = store.outside_paths(root, paths)
    assert refused == {p for p in paths if store.inside(root, p) is None}
    assert refused == set(paths[2:])
    assert store.outside_paths(root, ["kita/.."]) == set()  # the root itself: not outside
