"""Publishing a build at stable paths: a reader (load()) gets wholly the previous build or
wholly the new one whatever step fails or is killed; one build at a time; leftovers cleaned;
a no-op rebuild rewrites nothing; only the build's own files are replaced; git sees only
the files whose rows changed; a checkout from the symlink layout (with or without symlinks)
is converted once."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from osaka_unei import published, store
from osaka_unei.cli import app
from osaka_unei.dataset.checks import CheckError
from osaka_unei.dataset.load import load
from osaka_unei.models import WardPolicy
from osaka_unei.publish import atomic, outputs, run
from osaka_unei.publish.catalog import PUBLISHED_TABLES
from osaka_unei.publish.derive import derive_tables
from tests.test_export import (
    FakeParser,
    initiative,
    policy,
    put,
    simple_issues,
    tables_of,
    url_of,
)

ROOT = Path(__file__).resolve().parents[1]
TABLE_FILES = [f"{spec.name}.{e}" for spec in PUBLISHED_TABLES for e in ("parquet", "csv")]
DESCRIPTORS = ["datapackage.json", "build_stats.json", "datasette.json", "osaka_unei.sqlite"]
MANIFEST = "datapackage.json"
LINKS = ["symlink", "pointer"]
T1 = dt.datetime(
    2026, 2, 1, tzinfo=dt.UTC
)  # a checkout of the old layout with and without symlinks


def files_of(*policies: WardPolicy) -> dict[str, bytes]:
    """Every file a build of these policies publishes (core and derived tables)."""
    core = tables_of(*policies)
    tables = core | derive_tables(core, [], None, ROOT / "no-curated-files").tables
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return outputs.render_outputs(tables, ROOT / "no-published-build", when)


@pytest.fixture(scope="module")
def builds() -> dict[str, dict[str, bytes]]:
    """Two different builds' files: A (one ward, 2 initiatives), B (two wards, 3)."""
    return {
        "A": files_of(policy(issues=simple_issues(2))),
        "B": files_of(policy(issues=simple_issues(3)), policy("kita", 2019)),
    }


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
        for p in folder.rglob("*")
    }


def stamped(files: dict[str, bytes]) -> dict[str, bytes]:
    """files as published: the manifest with its build section."""
    hashes = {name: published.file_hash(data) for name, data in files.items() if name != MANIFEST}
    base = json.loads(files[MANIFEST]) if MANIFEST in files else {}
    return {**files, MANIFEST: atomic.stamp_manifest(base, hashes)[1]}


def csv_and_parquet_agree(out: Path) -> None:
    for spec in PUBLISHED_TABLES:
        parquet = pd.read_parquet(out / f"{spec.name}.parquet")
        csv = pd.read_csv(io.BytesIO((out / f"{spec.name}.csv").read_bytes()), encoding="utf-8-sig")
        assert list(csv.columns) == list(parquet.columns), spec.name
        assert len(csv) == len(parquet), spec.name
        for column in spec.key:
            assert csv[column].astype(str).tolist() == parquet[column].astype(str).tolist()


def leftovers(root: Path) -> list[str]:
    """Anything a publish leaves beside its folder but the folder, the lock and the stat
    index (a cache, written by a publish that carries files over)."""
    return sorted(
        p.name
        for p in root.iterdir()
        if p.name.startswith(".")
        and p.name != ".build.lock"
        and not p.name.endswith(atomic.INDEX_SUFFIX)
    )


# --- the published layout ----------------------------------------------------------------


def test_build_is_published_at_stable_paths(tmp_path: Path, builds: Any) -> None:
    out = tmp_path / "processed"
    first = outputs.publish_outputs(out, builds["A"])
    assert out.is_dir() and not out.is_symlink()
    assert tree(out) == stamped(builds["A"])
    package = json.loads((out / MANIFEST).read_bytes())
    assert package["build"]["id"] == first.build_id and len(first.build_id) == 16
    assert set(package["build"]["files"]) == set(builds["A"]) - {MANIFEST}
    for resource in package["resources"]:  # the Frictionless field, on each CSV
        assert resource["hash"] == published.file_hash(builds["A"][resource["path"]])
    second = outputs.publish_outputs(out, builds["B"])
    # Exactly the files whose bytes differ (the tables, the row counts) and the manifest;
    # not the schema files, nor the (empty) parse report.
    differ = {name for name, data in builds["B"].items() if builds["A"].get(name) != data}
    assert set(second.changed) == differ | {MANIFEST} and second.removed == []
    assert {"policies.parquet", "build_stats.json"} <= differ
    assert not {"datasette.json", "parse_report.csv"} & differ
    assert tree(out) == stamped(builds["B"])
    assert len(load("policies", out)) == 2  # type: ignore[arg-type]
    csv_and_parquet_agree(out)
    assert sorted(os.listdir(tmp_path)) == [".build.lock", "processed"]


def test_noop_rebuild_rewrites_nothing(tmp_path: Path, builds: Any) -> None:
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    before, beside = snapshot(out), sorted(os.listdir(tmp_path))
    assert outputs.publish_outputs(out, builds["A"]).changed == []
    assert snapshot(out) == before  # same bytes, mtimes and inodes
    assert sorted(os.listdir(tmp_path)) == beside


def test_load_refuses_a_mix_of_two_builds(
    tmp_path: Path, builds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    (out / "policies.parquet").write_bytes(builds["B"]["policies.parquet"])  # not A's
    monkeypatch.setattr(published, "_PAUSE", 0.0)
    with pytest.raises(published.NotWhole) as caught:
        load(processed_dir=out)
    message = str(caught.value)
    assert "\n" not in message and "changed while it was read" in message
    assert "policies.parquet is not the file datapackage.json describes" in message
    assert len(load("issues", out)) == 1  # type: ignore[arg-type]  # a file that matches
    assert outputs.publish_outputs(out, builds["A"]).changed == ["policies.parquet"]
    assert tree(out) == stamped(builds["A"])  # the next build puts it back


def test_readers_see_one_build_while_builds_are_published(tmp_path: Path, builds: Any) -> None:
    """load() in a loop while another thread publishes A, B, A, …: every answer is whole."""
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    done = threading.Event()
    errors: list[BaseException] = []

    def publisher() -> None:
        try:
            for round_ in range(8):
                outputs.publish_outputs(out, builds["AB"[round_ % 2 == 0]])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=publisher)
    thread.start()
    seen = set()
    while not done.is_set() or not seen:
        tables = load(processed_dir=out)
        assert isinstance(tables, dict)
        counts = (len(tables["policies"]), len(tables["initiatives"]))
        assert counts in {(1, 2), (2, 4)}  # A, or B: never A's policies with B's initiatives
        seen.add(counts)
    thread.join()
    assert not errors


def test_files_the_build_does_not_own_are_left_alone(tmp_path: Path, builds: Any) -> None:
    """A real data/processed holding a user's own files: only the build's files change."""
    out = tmp_path / "processed"
    (out / "notes").mkdir(parents=True)
    mine = {"notes.txt": b"mine", "notes/analysis.csv": b"a,b\n", "README": b"my data"}
    for name, data in mine.items():
        (out / name).write_bytes(data)
    outputs.publish_outputs(out, builds["A"] | {"extra/old.txt": b"old"})
    outputs.publish_outputs(out, builds["B"])  # extra/old.txt is the build's: removed
    assert tree(out) == stamped(builds["B"]) | mine
    assert not (out / "extra").exists()
    # A file of a name the build wants, that no build published: refused in one line.
    (out / "themes2.csv").write_bytes(b"my own")
    with pytest.raises(ValueError, match=r"themes2\.csv\): move them away") as caught:
        outputs.publish_outputs(out, builds["B"] | {"themes2.csv": b"ours"})
    assert "\n" not in str(caught.value)
    assert tree(out) == stamped(builds["B"]) | mine | {"themes2.csv": b"my own"}
    # A folder where the build writes a file (or a file where it needs a folder): the same.
    for name in ("notes", "README/index.html"):
        with pytest.raises(ValueError, match="move them away"):
            outputs.publish_outputs(out, builds["B"] | {name: b"ours"})
    assert tree(out) == stamped(builds["B"]) | mine | {"themes2.csv": b"my own"}
    assert leftovers(tmp_path) == []


def test_extra_outputs_are_published_with_the_tables(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    put(raw, url_of("minato", 565017), policy(), page="565017")

    def extra(staging: Path, tables: Any) -> None:
        (staging / "report").mkdir()
        rows = len(tables["policies"])
        (staging / "report" / "index.html").write_text(f"<p>{rows} policies</p>")

    def build(**options: Any) -> run.BuildResult:
        return run.run_build(
            raw, tmp_path / "out", tmp_path / "cache", parse=FakeParser(), **options
        )

    first = build(extra_outputs=extra)
    out = tmp_path / "out"
    assert (out / "report" / "index.html").read_text() == "<p>1 policies</p>"
    assert "report/index.html" in first.written
    again = build(extra_outputs=extra)
    assert (again.build_id, again.written) == (first.build_id, [])
    without = build()
    assert without.build_id != first.build_id and not (out / "report").exists()
    assert "report/index.html" in without.written


# --- the symlink layout of earlier checkouts, with and without symlinks --------------------


def old_layout(root: Path, name: str, files: dict[str, bytes], kind: str) -> Path:
    """name published the old way: builds/<id>/ and a symlink, or (git's core.symlinks
    false) a text file naming it."""
    build = root / "builds" / f"{abs(hash((name, kind))) % 16**16:016x}"
    build.mkdir(parents=True)
    atomic.write_files(build, files)
    link = root / name
    target = f"builds/{build.name}"
    if kind == "symlink":
        os.symlink(target, link)
    else:
        link.write_text(target)  # what git checks out without symlinks (no newline)
    return link


@pytest.mark.parametrize("kind", LINKS)
def test_old_layout_is_converted_once(tmp_path: Path, builds: Any, kind: str) -> None:
    report_files = {"index.html": b"<p>report</p>", "report-inputs.json": b'{"inputs": "x"}'}
    out = old_layout(tmp_path, "processed", builds["A"], kind)
    report = old_layout(tmp_path, "report", report_files, kind)
    assert len(load("policies", out)) == 1  # type: ignore[arg-type]  # read through the link
    result = outputs.publish_outputs(out, builds["B"])
    assert out.is_dir() and not out.is_symlink() and tree(out) == stamped(builds["B"])
    assert set(result.changed) >= {"policies.csv", MANIFEST}
    # The report's build is another output's: still there, still named by its link.
    assert tree(store.resolve_published(report)) == report_files
    assert sorted(os.listdir(tmp_path / "builds")) == [store.published_target(report)[7:]]  # type: ignore[index]
    outputs.publish_outputs(report, {"index.html": b"<p>new</p>"}, manifest="report-inputs.json")
    assert report.is_dir() and (report / "index.html").read_bytes() == b"<p>new</p>"
    assert not (tmp_path / "builds").exists()  # the last link gone: the old layout with it
    assert tree(out) == stamped(builds["B"])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", LINKS)
def test_old_layout_keeps_lineage_ids_and_the_shrink_check(tmp_path: Path, kind: str) -> None:
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    url = url_of("minato", 5)
    put(raw, url, policy(issues=simple_issues(3)), page="5")
    first = run.run_build(raw, tmp_path / "first", cache, parse=FakeParser())
    files = tree(tmp_path / "first")
    lineage = first.tables["lineage"].copy()
    lineage["lineage_id"] = "kept-" + lineage["lineage_id"]  # ids only a read-back can know
    files["lineage.parquet"] = pd.DataFrame.to_parquet(lineage, index=False)  # type: ignore[assignment]
    files[MANIFEST] = json.dumps({"resources": []}).encode()  # the old layout's: no hashes
    out = old_layout(tmp_path / "data", "processed", files, kind)
    put(raw, url, policy(issues=simple_issues(2)), T1, "5")  # one initiative fewer
    with pytest.raises(CheckError, match="ward minato lost rows in initiatives"):
        run.run_build(raw, out, cache, parse=FakeParser())
    assert store.published_target(out) is not None  # nothing written
    result = run.run_build(raw, out, cache, parse=FakeParser(), allow_shrink=True)
    assert out.is_dir() and not out.is_symlink()
    ids = set(result.tables["lineage"]["lineage_id"])
    assert ids and all(lineage_id.startswith("kept-") for lineage_id in ids)
    assert not (tmp_path / "data" / "builds").exists()


@pytest.mark.parametrize("symlinks", [True, False], ids=["symlinks", "no-symlinks"])
def test_git_sees_only_the_files_whose_rows_changed(tmp_path: Path, symlinks: bool) -> None:
    """In a clone of a repository committed in the symlink layout (cloned with and without
    core.symlinks): the first build converts it; then a rebuild that changes nothing leaves
    `git status` clean, and one changed amount shows in the files whose rows changed only."""
    origin = tmp_path / "origin"
    raw = origin / "data" / "raw"
    url = url_of("minato", 5)
    put(raw, url, policy(issues=simple_issues(3)), page="5")
    put(raw, url_of("kita", 6), policy("kita", 2019), page="6")
    run.run_build(raw, tmp_path / "old", tmp_path / "cache", parse=FakeParser())
    old_layout(origin / "data", "processed", tree(tmp_path / "old"), "symlink")
    (origin / ".gitignore").write_bytes((ROOT / ".gitignore").read_bytes())
    git = functools.partial(_git, origin)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "symlink layout")
    clone = tmp_path / "clone"
    _git(
        tmp_path,
        "-c",
        f"core.symlinks={str(symlinks).lower()}",
        "clone",
        "-q",
        str(origin),
        str(clone),
    )
    data = clone / "data"
    assert (data / "processed").is_symlink() == symlinks

    def build() -> run.BuildResult:
        return run.run_build(
            data / "raw", data / "processed", tmp_path / "cache", parse=FakeParser()
        )

    before = build()
    assert (data / "processed").is_dir() and not (data / "processed").is_symlink()
    git = functools.partial(_git, clone)
    git("add", "-A")
    git("commit", "-q", "-m", "stable paths")
    assert not (data / "builds").exists()
    build()
    assert git("status", "--porcelain") == ""  # a no-op rebuild: nothing to commit
    # One amount changes on the minato page (its new version is stored): 200 → 250 千円.
    changed = simple_issues(3)
    strategy = changed[0].strategies[0]
    initiatives = [
        *strategy.initiatives[:1],
        initiative("1-1-2", 2, 250),
        *strategy.initiatives[2:],
    ]
    changed[0].strategies[0] = strategy.model_copy(update={"initiatives": initiatives})
    put(data / "raw", url, policy(issues=changed), T1, "5")
    after = build()
    differ = {
        f"{name}.{ext}"
        for name, frame in after.tables.items()
        if not frame.equals(before.tables[name])
        for ext in ("csv", "parquet")
    }
    assert "initiatives.csv" in differ and "policies.csv" in differ
    assert "issues.csv" not in differ and "themes.csv" not in differ
    names = set(git("diff", "--name-only", "--", "data/processed").split())
    meta = {"datapackage.json", "osaka_unei.sqlite"}  # + build_stats.json's time, if it moved
    names.discard("data/processed/build_stats.json")
    assert names == {f"data/processed/{name}" for name in differ | meta}
    added, deleted, _ = git("diff", "--numstat", "--", "data/processed/initiatives.csv").split()
    assert (added, deleted) == ("1", "1")  # the one row whose amount changed


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


# --- fault injection: every step of publishing fails, or the process dies there ----------
#
# On the smallest build that takes every step of a publish: a changed file, an unchanged
# one, a new file in a new folder, a file removed from a folder left empty, a user's own
# file, the manifest; from a stable folder, and from the old layout with and without
# symlinks (the one-time conversion). os.fsync is counted as a step but does no I/O here: a
# killed process loses nothing the kernel holds, and 6 ms a call would be most of the time.


def _table(rows: int) -> bytes:
    return pd.DataFrame({"n": list(range(rows))}).to_parquet(index=False)


def _package(*names: str) -> bytes:
    resources = [
        {
            "name": name,
            "path": f"{name}.csv",
            "parquet_path": f"{name}.parquet",
            "schema": {"fields": [{"name": "n", "type": "integer"}]},
        }
        for name in names
    ]
    return json.dumps({"resources": resources}).encode()


SMALL = {
    "A": {
        "t.parquet": _table(1),
        "t.csv": b"n\n0\n",
        "u.parquet": _table(5),
        "u.csv": b"n\n0\n1\n2\n3\n4\n",
        "gone/old.txt": b"only in A",
        MANIFEST: _package("t", "u"),
    },
    "B": {
        "t.parquet": _table(2),
        "t.csv": b"n\n0\n1\n",
        "u.parquet": _table(5),
        "u.csv": b"n\n0\n1\n2\n3\n4\n",
        "new/more.txt": b"only in B",
        MANIFEST: _package("t", "u"),
    },
}
USER_FILES = {"notes.txt": b"mine"}
KINDS = ["folder", *LINKS]
# B's files that are A's too: a publish may carry them over from A's folder, unstaged
KEPT = {name: published.file_hash(SMALL["A"][name]) for name in ("u.parquet", "u.csv")}
# (kind, kept): every layout staging every file, and the carrying over of kept files
PUBLISHES = [*((kind, False) for kind in KINDS), ("folder", True), ("symlink", True)]


def publish_b(out: Path, kept: bool) -> None:
    """Publish build B: every file staged, or A's unchanged files kept where they are."""
    if kept:
        staged = {name: data for name, data in SMALL["B"].items() if name not in KEPT}
        outputs.publish_outputs(out, staged, kept=KEPT)
    else:
        outputs.publish_outputs(out, SMALL["B"])


def state(out: Path) -> str:
    """Which build a reader gets, 'A' or 'B' (every file checked), and load() agrees."""
    _, files = published.read_build(
        out, MANIFEST, lambda m: sorted(published.build_files(m) or set(SMALL["A"]) - {MANIFEST})
    )
    for key in "AB":
        if files == {name: data for name, data in SMALL[key].items() if name != MANIFEST}:
            tables = load(processed_dir=out)
            assert isinstance(tables, dict)
            assert (len(tables["t"]), len(tables["u"])) == ({"A": 1, "B": 2}[key], 5)
            return key
    raise AssertionError(f"not one build: {sorted(files)}")


def _start(root: Path, kind: str, template: Path) -> Path:
    """out holding build A: a stable folder (with a user's file), or the old layout."""
    out = root / "processed"
    if kind == "folder":
        shutil.copytree(template, root)
    else:
        root.mkdir(parents=True)
        old_layout(root, "processed", SMALL["A"], kind)
        old_layout(root, "report", {"index.html": b"other output"}, kind)
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    (root / "processed").mkdir()
    atomic.write_files(root / "processed", USER_FILES)
    outputs.publish_outputs(root / "processed", SMALL["A"])
    return root


_STEPS = ("replace", "rename", "fsync", "unlink", "rmdir", "mkdir", "open")


class _Injected(OSError):
    pass


def _patch_steps(monkeypatch: pytest.MonkeyPatch, on_call: Callable[[int, str], None]) -> None:
    """Wrap each os function a publish may call; on_call(n, name) runs before the n-th call."""
    counter = iter(range(1, 10_000))
    for name in _STEPS:
        real = (lambda fd: None) if name == "fsync" else getattr(os, name)

        def wrapper(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            on_call(next(counter), _name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)


def _count_steps(tmp_path: Path, kind: str, template: Path, kept: bool = False) -> list[str]:
    out = _start(tmp_path / "count", kind, template)
    assert state(out) == "A"
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        _patch_steps(patch, lambda n, name: calls.append(name))
        publish_b(out, kept)
    assert state(out) == "B"
    return calls


def _after_fault(root: Path, out: Path, kind: str) -> str:
    """Wholly old or wholly new to a reader; then a normal build ends wholly new with
    nothing left over, the user's file and the other output's files kept."""
    seen = state(out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        outputs.publish_outputs(out, SMALL["B"])
    user = USER_FILES if kind == "folder" else {}
    assert tree(out) == stamped(SMALL["B"]) | user
    assert leftovers(root) == []
    if kind != "folder":
        assert tree(store.resolve_published(root / "report")) == {"index.html": b"other output"}
        assert os.listdir(root / "builds") == [store.published_target(root / "report")[7:]]  # type: ignore[index]
    return seen


@pytest.mark.parametrize(("kind", "kept"), PUBLISHES)
def test_a_failing_step_leaves_old_or_new(
    tmp_path: Path, template: Path, kind: str, kept: bool
) -> None:
    steps = _count_steps(tmp_path, kind, template, kept)
    every = {"mkdir", "fsync", "open", "replace", "unlink"}  # replace: the journal, the files
    assert every | ({"rmdir"} if kind == "folder" else {"rename"}) <= set(steps)
    states = set()
    for failing in range(1, len(steps) + 1):
        root = tmp_path / f"raise-{failing}"
        out = _start(root, kind, template)

        def fail_at(n: int, name: str, failing: int = failing) -> None:
            if n == failing:
                raise _Injected(errno.EIO, f"injected at step {n} ({name})")

        with pytest.MonkeyPatch.context() as patch:
            _patch_steps(patch, fail_at)
            with contextlib.suppress(_Injected):
                publish_b(out, kept)
        states.add(_after_fault(root, out, kind))
    assert states == {"A", "B"}


def _die_at(dying: int, n: int, name: str) -> None:
    if n == dying:
        os._exit(17)


@pytest.mark.parametrize(("kind", "kept"), PUBLISHES)
def test_a_build_killed_before_any_step_leaves_old_or_new(
    tmp_path: Path, template: Path, kind: str, kept: bool
) -> None:
    """os._exit in a forked child just before each step: no cleanup of any kind runs."""
    steps = _count_steps(tmp_path, kind, template, kept)
    states = set()
    for dying in range(1, len(steps) + 1):
        root = tmp_path / f"kill-{dying}"
        out = _start(root, kind, template)
        pid = os.fork()
        if pid == 0:  # the child: only file system calls, then it dies mid-publish
            try:
                with pytest.MonkeyPatch.context() as patch:
                    _patch_steps(patch, functools.partial(_die_at, dying))
                    publish_b(out, kept)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 17, f"child did not die at step {dying}"
        states.add(_after_fault(root, out, kind))
    assert states == {"A", "B"}  # the kills landed both before and after the commit point


def test_leftovers_of_killed_builds_are_removed_and_no_one_elses(tmp_path: Path) -> None:
    out = tmp_path / "processed"
    outputs.publish_outputs(out, SMALL["A"])
    junk = [".processed.staging-0a1b2c", ".processed.journal.0a1b2c.tmp", ".processed.x.new"]
    others = [".report.staging-3d4e5f", ".report.journal.3d4e5f.tmp"]
    for name in junk + others:
        if "staging" in name:
            (tmp_path / name).mkdir()
            (tmp_path / name / "t.csv").write_bytes(b"partial")
        else:
            (tmp_path / name).write_bytes(b"partial")
    outputs.publish_outputs(out, SMALL["B"])
    assert state(out) == "B"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted(
        [".build.lock", *others]
    )


# --- one build at a time ------------------------------------------------------------------


def _seed_raw(raw: Path, slugs: set[str]) -> None:
    committed = ROOT / "data" / "raw"
    records = [
        r
        for r in store.read_manifest(committed)
        if r.source_kind == "capture" and r.ward_slug in slugs
    ]
    assert len(records) == len(slugs)
    for record in records:
        assert record.path is not None
        (raw / record.path).parent.mkdir(parents=True, exist_ok=True)
        (raw / record.path).write_bytes((committed / record.path).read_bytes())
    store.append_manifest(raw, records)


def test_two_builds_interleaved_end_with_one_whole_build(tmp_path: Path, builds: Any) -> None:
    """The first build pauses at its first rename until the second is done (or 1 s): with no
    lock the second's files land between the first's; with the lock the second waits."""
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    second_done = threading.Event()
    first_thread: list[threading.Thread] = []
    paused = []
    real_replace, real_rename = os.replace, os.rename

    def pausing(real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() in first_thread and not paused:
                result = real(*args, **kwargs)
                paused.append(True)
                second_done.wait(1.0)
                return result
            return real(*args, **kwargs)

        return step

    def second() -> None:
        outputs.publish_outputs(out, builds["A"], wait=30)
        second_done.set()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", pausing(real_replace))
        patch.setattr(os, "rename", pausing(real_rename))
        first = threading.Thread(target=outputs.publish_outputs, args=(out, builds["B"]))
        first_thread.append(first)
        first.start()
        deadline = time.monotonic() + 10
        while not paused and time.monotonic() < deadline:
            time.sleep(0.01)
        other = threading.Thread(target=second)
        other.start()
        first.join(30)
        other.join(30)
    assert paused
    assert tree(out) == stamped(builds["A"])  # the second build, published after the first
    assert leftovers(tmp_path) == []


def whole_build(out: Path) -> dict[str, bytes]:
    """out's files, after checking that they are one build: exactly the files its
    datapackage.json lists, each with its sha256 there, CSV and Parquet alike."""
    _, files = published.read_build(out, MANIFEST, lambda m: sorted(published.build_files(m) or ()))
    assert {p.name for p in out.iterdir()} == {*files, MANIFEST}
    csv_and_parquet_agree(out)
    return files


def _cli_build(raw: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen[str]:
    command = "from osaka_unei.cli import app; app()"
    args = ["build", "--raw-dir", str(raw), "--out-dir", str(out), "--cache-dir", str(cache)]
    return subprocess.Popen(
        [sys.executable, "-c", command, *args, *extra],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_builds_at_once_end_with_one_whole_build(tmp_path: Path) -> None:
    """A CLI build in another process holds the lock; a build started meanwhile here waits
    for it, then publishes: the end is the second build, whole."""
    raws = {"small": {"minato"}, "large": {"kita", "minato"}}
    for name, slugs in raws.items():
        _seed_raw(tmp_path / name, slugs)
    out = tmp_path / "data" / "processed"
    first = _cli_build(tmp_path / "large", out, tmp_path / "cache-large")
    lock = atomic.lock_path(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        try:  # the first build holds the lock while it builds and publishes
            with atomic.lock(lock, 0):
                time.sleep(0.005)
        except atomic.Busy:
            break
    assert first.poll() is None, "the first build ended before it could be overlapped"
    second = run.run_build(
        tmp_path / "small", out, tmp_path / "cache-small", allow_shrink=True, wait=120
    )
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    whole_build(out)
    policies = load("policies", out)
    assert isinstance(policies, pd.DataFrame)
    assert (
        set(policies["ward_slug"]) == raws["small"] == set(second.tables["policies"]["ward_slug"])
    )
    assert leftovers(tmp_path / "data") == []


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[io.TextIOWrapper]:
    """data/.build.lock held as another process would hold it: flock on its own open file
    (closing the file releases it)."""
    path = tmp_path / "data" / ".build.lock"
    path.parent.mkdir(parents=True)
    handle = path.open("w")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    yield handle
    handle.close()


def _build_args(tmp_path: Path, *extra: str) -> list[str]:
    _seed_raw(tmp_path / "raw", {"kita"})
    out, cache = tmp_path / "data" / "processed", tmp_path / "cache"
    return [
        *("build", "--raw-dir", str(tmp_path / "raw"), "--out-dir", str(out)),
        *("--cache-dir", str(cache), *extra),
    ]


def test_second_build_refuses_after_wait(tmp_path: Path, held_lock: Any) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(app, _build_args(tmp_path, "--wait", "0.3"))
    assert result.exit_code == 3
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: another build is running")
    assert 0.3 <= time.monotonic() - started < 10
    assert not (tmp_path / "data" / "processed").exists()


def test_second_build_waits_for_the_first(tmp_path: Path, held_lock: Any) -> None:
    args = _build_args(tmp_path, "--wait", "30")
    started = time.monotonic()
    release = threading.Timer(0.5, held_lock.close)
    release.start()
    result = CliRunner().invoke(app, args)
    release.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.5
    files = whole_build(tmp_path / "data" / "processed")
    assert sorted([*files, MANIFEST]) == sorted([*TABLE_FILES, *DESCRIPTORS])


# --- the stat index: kept files known intact without reading them --------------------------


def _tick(path: Path) -> None:
    """Until the file system's clock is past path's ctime (a few ms at most)."""
    probe = path.parent / ".tick"
    while True:
        probe.write_bytes(b"")
        if probe.stat().st_ctime_ns > path.stat().st_ctime_ns:
            probe.unlink()
            return


def test_the_stat_index_trusts_only_files_unchanged_since_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    files = {"a.html": b"aaaa", "b.html": b"bbbb", "sub/c.html": b"cccc", "m.json": b"{}"}
    outputs.publish_outputs(out, files, manifest="m.json", kept={})
    hashes = {n: published.file_hash(d) for n, d in files.items() if n != "m.json"}
    _tick(out / "sub" / "c.html")
    # A publish that kept nothing (every file new) reads nothing back: no entry yet.
    with monkeypatch.context() as patch:
        patch.setattr(atomic, "_read_regular", lambda *a, **k: pytest.fail("read"))
        atomic.record_index(out, hashes, read=False)
    assert json.loads(atomic.index_path(out).read_bytes())["files"] == {}
    atomic.record_index(out, hashes)  # as the next publish that keeps files does: read once
    assert atomic.index_path(out).is_file()
    with monkeypatch.context() as patch:  # trusted by their stat alone: not read
        patch.setattr(atomic, "_read_regular", lambda *a, **k: pytest.fail("read"))
        assert atomic.verified(out, hashes) == set(hashes)
    # same size, same mtime, other bytes: the ctime moved, so a.html is read, and refused
    stat = (out / "a.html").stat()
    (out / "a.html").write_bytes(b"xxxx")
    os.utime(out / "a.html", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # a link with the right bytes in place of b.html: not the build's file
    (tmp_path / "b-copy").write_bytes(b"bbbb")
    (out / "b.html").unlink()
    (out / "b.html").symlink_to(tmp_path / "b-copy")
    assert atomic.verified(out, hashes) == {"sub/c.html"}
    assert atomic.verified(out, {"a.html": published.file_hash(b"xxxx")}) == {"a.html"}
    # a damaged index is only a cache: files are read again
    atomic.index_path(out).write_bytes(b"{not json")
    assert atomic.verified(out, hashes) == {"sub/c.html"}


def test_kept_files_are_carried_over_or_refused(tmp_path: Path) -> None:
    """A kept file is listed in the new manifest and left as it is (same inode, mtime and
    ctime); one the published build does not hold with that hash is refused, before
    anything is written."""
    out = tmp_path / "report"
    first = {"a.html": b"aaaa", "b.html": b"bbbb", "m.json": b"{}"}
    outputs.publish_outputs(out, first, manifest="m.json", kept={})
    before = (out / "a.html").stat()
    kept = {"a.html": published.file_hash(b"aaaa")}
    done = outputs.publish_outputs(
        out, {"b.html": b"BBBB", "m.json": b"{}"}, manifest="m.json", kept=kept
    )
    assert sorted(done.changed) == ["b.html", "m.json"]
    after = (out / "a.html").stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    _, got = published.read_build(out, "m.json", lambda m: ["a.html", "b.html"])
    assert got == {"a.html": b"aaaa", "b.html": b"BBBB"}
    snap = snapshot(out)
    wrong = {"a.html": published.file_hash(b"other")}
    with pytest.raises(store.StoreError, match="no longer holds files this build keeps"):
        outputs.publish_outputs(out, {"m.json": b"{}"}, manifest="m.json", kept=wrong)
    with pytest.raises(ValueError, match="both staged and kept"):
        outputs.publish_outputs(
            out, {"a.html": b"aaaa", "m.json": b"{}"}, manifest="m.json", kept=kept
        )
    assert snapshot(out) == snap
