"""A build redoes only the wards whose inputs changed (publish/units.py), and what it
publishes is byte for byte what a build from nothing publishes."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osaka_unei import store
from osaka_unei.publish import run, units
from osaka_unei.publish.run import BuildResult, run_build

from .multiyear import BENCH, MULTIYEAR_RAW, write_bench_store

UNCHANGED = {"build_stats.json", "datapackage.json"}  # the build time, and its hash


def _files(out: Path) -> dict[str, str]:
    return {
        path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name not in UNCHANGED and not path.name.startswith(".")
    }


def _build(base: Path, raw: Path, cache: str = "cache", **options: Any) -> BuildResult:
    (base / "data").mkdir(parents=True, exist_ok=True)
    return run_build(raw, base / "out", base / cache, data_dir=base / "data", **options)


@pytest.fixture
def redone(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The units each build derives again (run._derive's `redo`), build after build; a build
    that derives nothing does not call it."""
    calls: list[list[str]] = []
    derive = run._derive

    def spy(core: Any, previous: Any, curated: Any, redo: list[str]) -> Any:
        calls.append(list(redo))
        return derive(core, previous, curated, redo)

    monkeypatch.setattr(run, "_derive", spy)
    yield calls


def _new_version(raw: Path, pages: list[Any]) -> str:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from build_bench import new_version, write_raw_store

    page = new_version(pages)
    write_raw_store(raw, [page])
    return str(page.ward_slug)


def test_a_new_version_redoes_its_ward_only_and_publishes_what_a_fresh_build_does(
    tmp_path: Path, redone: list[list[str]]
) -> None:
    raw = tmp_path / "raw"
    pages = write_bench_store(raw)
    first = _build(tmp_path / "a", raw)
    assert len(redone[-1]) == 24 and first.parsed == 96
    shutil.copytree(tmp_path / "a" / "out", tmp_path / "b" / "out")  # same previous build

    ward = _new_version(raw, pages)
    again = _build(tmp_path / "a", raw)
    assert redone[-1] == [ward]
    assert (again.parsed, again.cached) == (1, 96)
    assert "versions.csv" in again.written and "policies.csv" in again.written

    fresh = _build(tmp_path / "b", raw, force=True)  # no memo, no parse cache
    assert len(redone[-1]) == 24 and fresh.parsed == 97
    assert _files(tmp_path / "a" / "out") == _files(tmp_path / "b" / "out")
    for name, frame in fresh.tables.items():
        assert again.tables[name].astype(str).equals(frame.astype(str)), name

    calls = len(redone)
    quiet = _build(tmp_path / "a", raw)  # nothing changed: nothing derived, nothing written
    assert (len(redone), quiet.parsed, quiet.written) == (calls, 0, [])


def test_lineage_across_years_is_the_same_built_ward_by_ward(
    tmp_path: Path, redone: list[list[str]]
) -> None:
    """The multi-year corpus (3 wards, 4 years): one ward's page changes; its lineage and
    every other ward's are what a build from nothing gives."""
    raw = tmp_path / "raw"
    shutil.copytree(MULTIYEAR_RAW, raw)
    _build(tmp_path / "a", raw)
    shutil.copytree(tmp_path / "a" / "out", tmp_path / "b" / "out")
    # A later version of one ward's latest page, one title reworded: its lineage is redone.
    records, _ = store.load_manifest(raw)
    last = records[-1]
    assert last.path is not None
    text = (raw / last.path).read_text(encoding="utf-8")
    changed = text.replace("推進", "推進・強化", 1).encode("utf-8")
    assert changed != text.encode("utf-8")
    path = store.store_version(raw, str(last.ward_slug), str(last.page_id), changed, "txt")
    later = last.fetched_at + dt.timedelta(days=30)
    sha256 = store.sha256_hex(changed)
    record = last.model_copy(
        update={"path": path, "sha256": sha256, "size": len(changed), "fetched_at": later}
    )
    store.append_manifest(raw, [record])
    again = _build(tmp_path / "a", raw)
    assert len(redone[-1]) == 1
    fresh = _build(tmp_path / "b", raw, force=True)
    assert _files(tmp_path / "a" / "out") == _files(tmp_path / "b" / "out")
    assert again.tables["lineage"].astype(str).equals(fresh.tables["lineage"].astype(str))


def test_a_damaged_or_foreign_memo_is_a_miss_never_an_input(
    tmp_path: Path, redone: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    write_bench_store(raw, 24)
    _build(tmp_path, raw)
    expected = _files(tmp_path / "out")
    memo = tmp_path / "cache" / units.MEMO_DIR
    table = next(memo.glob("nodes-*.arrow"))
    table.write_bytes(table.read_bytes()[:-100])  # cut short
    _build(tmp_path, raw)
    assert len(redone[-1]) == 6  # every ward of the store again
    assert _files(tmp_path / "out") == expected

    (memo / units.INDEX).write_text("{not json", encoding="utf-8")
    _build(tmp_path, raw)
    assert len(redone[-1]) == 6

    calls = len(redone)
    _build(tmp_path, raw)
    assert len(redone) == calls  # nothing derived
    units.code_fingerprint.cache_clear()
    monkeypatch.setattr(units, "code_fingerprint", lambda: "another version of the code")
    _build(tmp_path, raw)
    assert len(redone[-1]) == 6  # a rule changed: every unit again
    assert _files(tmp_path / "out") == expected


def test_a_curated_row_redoes_the_ward_it_names_and_keeps_the_others_messages(
    tmp_path: Path, redone: list[list[str]]
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(MULTIYEAR_RAW, raw)
    header = "action,ward_slug,level,from_policy_id,from_node,to_policy_id,to_node,reason\n"
    bad_kita = "join,kita,issue,kita-2019,p9,kita-2020,p9,no such issue\n"
    overrides = tmp_path / "data" / "lineage-overrides.csv"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(header + bad_kita, encoding="utf-8")
    _build(tmp_path, raw)
    assert len(redone[-1]) == 3
    bad_minato = "join,minato,issue,minato-2022,p9,minato-2023,p9,no such issue\n"
    overrides.write_text(header + bad_kita + bad_minato, encoding="utf-8")
    result = _build(tmp_path, raw)
    assert redone[-1] == ["minato"]
    report = result.tables["parse_report"]
    row = report[report["path"] == overrides.as_posix()]
    messages = row["messages"].item()
    assert "line 2 (join): no issue 'p9' in kita-2019" in messages
    assert "line 3 (join): no issue 'p9' in minato-2022" in messages


def test_a_page_naming_another_ward_than_its_folder_is_an_error_row(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(MULTIYEAR_RAW, raw)
    manifest = raw / "manifest.jsonl"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    moved = next(line for line in lines if '"ward_slug":"kita"' in line and '"path":"kita/' in line)
    path = moved.split('"path":"', 1)[1].split('"', 1)[0]
    target = "minato/" + path.split("/", 1)[1]
    (raw / target).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(raw / path, raw / target)
    lines[lines.index(moved)] = moved.replace(path, target).replace(
        '"ward_slug":"kita"', '"ward_slug":"minato"'
    )
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _build(tmp_path, raw, allow_shrink=True)
    report = result.tables["parse_report"]
    row = report[report["path"] == target]
    assert row["status"].item() == "error"
    assert "page names ward kita but is stored under minato: not used" in row["messages"].item()


def test_a_noop_rebuild_renders_nothing_and_a_hand_edited_file_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    write_bench_store(raw, 24)
    rendered: list[int] = []
    render = run.render_outputs

    def spy(*args: Any, **kwargs: Any) -> Any:
        rendered.append(1)
        return render(*args, **kwargs)

    monkeypatch.setattr(run, "render_outputs", spy)
    first = _build(tmp_path, raw)
    expected = _files(tmp_path / "out")
    again = _build(tmp_path, raw)
    assert (len(rendered), again.written, again.build_id) == (1, [], first.build_id)
    assert again.tables["policies"].equals(first.tables["policies"])

    edited = tmp_path / "out" / "policies.csv"
    edited.write_bytes(edited.read_bytes().replace(b"1", b"2", 1))
    fixed = _build(tmp_path, raw)
    assert len(rendered) == 2 and "policies.csv" in fixed.written
    assert _files(tmp_path / "out") == expected

    (tmp_path / "data" / "lineage-overrides.csv").write_text("not,a,header\n", encoding="utf-8")
    told = _build(tmp_path, raw)  # a curated file's new error row: published
    assert len(rendered) == 3 and "parse_report.csv" in told.written
