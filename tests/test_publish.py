"""Publishing a build as one unit: data/processed is wholly the previous build or wholly the
new one whatever step fails or is killed; one build at a time; leftovers cleaned; a no-op
rebuild rewrites nothing; readers follow a symlink or a pointer file."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import functools
import io
import json
import os
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

from osaka_unei import store
from osaka_unei.cli import app
from osaka_unei.dataset.load import load
from osaka_unei.models import WardPolicy
from osaka_unei.publish import outputs, run
from osaka_unei.publish.catalog import PUBLISHED_TABLES
from osaka_unei.publish.derive import derive_tables
from tests.test_export import FakeParser, policy, put, simple_issues, tables_of, url_of

ROOT = Path(__file__).resolve().parents[1]
TABLE_FILES = [f"{spec.name}.{e}" for spec in PUBLISHED_TABLES for e in ("parquet", "csv")]
DESCRIPTORS = ["datapackage.json", "build_stats.json", "datasette.json", "osaka_unei.sqlite"]


def files_of(*policies: WardPolicy) -> dict[str, bytes]:
    """Every file a build of these policies publishes (core and derived tables, database)."""
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


def state(out: Path, builds: dict[str, dict[str, bytes]]) -> str:
    """Which build out holds, file by file: 'A' or 'B', else an AssertionError naming the mix."""
    if not out.exists():
        return "missing"
    seen = {}
    for name in builds["A"]:
        data = (out / name).read_bytes()
        matches = {key for key, files in builds.items() if files[name] == data}
        seen[name] = "?" if not matches else "".join(sorted(matches))
    kinds = {kind for kind in seen.values() if kind != "AB"}  # "AB": the same in both
    assert len(kinds) == 1 and "?" not in kinds, f"mixed build: {seen}"
    return kinds.pop()


def csv_and_parquet_agree(out: Path) -> None:
    for spec in PUBLISHED_TABLES:
        parquet = pd.read_parquet(out / f"{spec.name}.parquet")
        csv = pd.read_csv(io.BytesIO((out / f"{spec.name}.csv").read_bytes()), encoding="utf-8-sig")
        assert list(csv.columns) == list(parquet.columns), spec.name
        assert len(csv) == len(parquet), spec.name
        for column in spec.key:
            assert csv[column].astype(str).tolist() == parquet[column].astype(str).tolist()


def leftovers(root: Path) -> list[str]:
    """Staging folders, folders moved aside, temp links, old code's .build-* folders, and
    builds no link names."""
    found = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.startswith((".staging-", ".old-", ".build-")) or p.name.endswith(".new")
    ]
    builds_dir = root / "builds"
    if builds_dir.is_dir():
        links = [p for p in root.iterdir() if p.is_symlink() or p.name == "processed"]
        linked = {store.resolve_published(p) for p in links}
        found += [p.name for p in builds_dir.iterdir() if p.resolve() not in linked]
    return found


def snapshot(out: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in out.iterdir()}


def start(root: Path, kind: str, builds: dict[str, dict[str, bytes]]) -> Path:
    """out published from build A: as a build folder behind a symlink, or (kind 'legacy')
    as the real folder a checkout from before the symlink holds."""
    out = root / "processed"
    if kind == "legacy":
        out.mkdir(parents=True)
        for name, data in builds["A"].items():
            (out / name).write_bytes(data)
    else:
        outputs.publish_outputs(out, builds["A"])
    assert state(out, builds) == "A"
    return out


# --- the published layout ----------------------------------------------------------------


def test_build_is_a_folder_behind_one_symlink(tmp_path: Path, builds: Any) -> None:
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    assert out.is_symlink()
    target = os.readlink(out)
    assert target.startswith("builds/") and len(Path(target).name) == 16
    assert sorted(p.name for p in (tmp_path / "builds").iterdir()) == [Path(target).name]
    changed = outputs.publish_outputs(out, builds["B"]).changed
    # Exactly the files whose bytes differ: the tables, the database, the row counts; not
    # the schema, nor the (empty) parse report.
    differ = {name for name, data in builds["B"].items() if builds["A"].get(name) != data}
    assert set(changed) == differ
    assert {"policies.parquet", "build_stats.json"} <= differ
    assert not {"datapackage.json", "parse_report.csv"} & differ
    assert os.readlink(out) != target
    assert state(out, builds) == "B"
    csv_and_parquet_agree(out)
    assert leftovers(tmp_path) == []


def test_noop_rebuild_rewrites_nothing(tmp_path: Path, builds: Any) -> None:
    out = tmp_path / "processed"
    outputs.publish_outputs(out, builds["A"])
    target, before = os.readlink(out), snapshot(out)
    time.sleep(0.01)
    assert outputs.publish_outputs(out, builds["A"]).changed == []
    assert os.readlink(out) == target
    assert snapshot(out) == before  # same bytes, mtimes and inodes
    assert sorted(os.listdir(tmp_path / "builds")) == [Path(target).name]


def test_legacy_folder_is_moved_aside_once(tmp_path: Path, builds: Any) -> None:
    out = start(tmp_path, "legacy", builds)
    assert outputs.publish_outputs(out, builds["B"]).changed
    assert out.is_symlink() and state(out, builds) == "B"
    assert leftovers(tmp_path) == []


def test_folder_that_is_not_a_build_is_left_alone(tmp_path: Path, builds: Any) -> None:
    out = tmp_path / "processed"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no build"):
        outputs.publish_outputs(out, builds["A"])
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_pointer_file_is_followed_and_kept(tmp_path: Path, builds: Any) -> None:
    """A clone with core.symlinks=false holds a text file naming the build folder."""
    out = start(tmp_path, "symlink", builds)
    target = os.readlink(out)
    out.unlink()
    out.write_text(target)  # what git checks out without symlinks (no newline)
    policies = load("policies", out)
    assert isinstance(policies, pd.DataFrame) and policies["policy_id"].tolist() == ["minato-2022"]
    outputs.publish_outputs(out, builds["B"])
    assert not out.is_symlink() and out.is_file()
    assert out.read_text().startswith("builds/") and out.read_text() != target
    assert len(load("policies", out)) == 2  # type: ignore[arg-type]
    assert leftovers(tmp_path) == []


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path, builds: Any) -> None:
    out = start(tmp_path, "symlink", builds)
    junk = [".staging-0a1b2c", ".old-3d4e5f", "0123456789abcdef"]
    for name in junk:
        (tmp_path / "builds" / name).mkdir()
        (tmp_path / "builds" / name / "policies.csv").write_bytes(b"partial")
    outputs.publish_outputs(out, builds["B"])
    assert state(out, builds) == "B"
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


# --- fault injection: every step of publishing fails, or the process dies there ----------

_STEPS = ("replace", "rename", "symlink", "fsync", "unlink", "rmdir", "mkdir")


class _Injected(OSError):
    pass


def _patch_steps(monkeypatch: pytest.MonkeyPatch, on_call: Callable[[int, str], None]) -> None:
    """Wrap each os function a publish may call; on_call(n, name) runs before the n-th call."""
    counter = iter(range(1, 10_000))
    for name in _STEPS:
        real = getattr(os, name)

        def wrapper(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            on_call(next(counter), _name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)


def _count_steps(tmp_path: Path, kind: str, builds: Any) -> list[str]:
    out = start(tmp_path / "count", kind, builds)
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        _patch_steps(patch, lambda n, name: calls.append(name))
        outputs.publish_outputs(out, builds["B"])
    assert state(out, builds) == "B"
    return calls


def _after_fault(root: Path, out: Path, builds: Any, kind: str) -> None:
    """Wholly old or wholly new; then a normal build ends wholly new with nothing left over."""
    # Between the two renames of the one-time migration, out does not exist (documented).
    assert state(out, builds) in ({"A", "B", "missing"} if kind == "legacy" else {"A", "B"})
    outputs.publish_outputs(out, builds["B"])
    assert state(out, builds) == "B"
    csv_and_parquet_agree(out)
    assert leftovers(root) == []


@pytest.mark.parametrize("kind", ["symlink", "legacy"])
def test_a_failing_step_leaves_old_or_new(tmp_path: Path, builds: Any, kind: str) -> None:
    steps = _count_steps(tmp_path, kind, builds)
    assert len(steps) >= 3
    for failing in range(1, len(steps) + 1):
        root = tmp_path / f"raise-{failing}"
        out = start(root, kind, builds)

        def fail_at(n: int, name: str, failing: int = failing) -> None:
            if n == failing:
                raise _Injected(errno.EIO, f"injected at step {n} ({name})")

        with pytest.MonkeyPatch.context() as patch:
            _patch_steps(patch, fail_at)
            with contextlib.suppress(_Injected):
                outputs.publish_outputs(out, builds["B"])
        _after_fault(root, out, builds, kind)


def _die_at(dying: int, n: int, name: str) -> None:
    if n == dying:
        os._exit(17)


@pytest.mark.parametrize("kind", ["symlink", "legacy"])
def test_a_build_killed_between_any_two_steps_leaves_old_or_new(
    tmp_path: Path, builds: Any, kind: str
) -> None:
    """os._exit in a forked child just before each step: no cleanup of any kind runs."""
    steps = _count_steps(tmp_path, kind, builds)
    states = set()
    for dying in range(1, len(steps) + 1):
        root = tmp_path / f"kill-{dying}"
        out = start(root, kind, builds)
        pid = os.fork()
        if pid == 0:  # the child: only file system calls, then it dies mid-publish
            try:
                with pytest.MonkeyPatch.context() as patch:
                    _patch_steps(patch, functools.partial(_die_at, dying))
                    outputs.publish_outputs(out, builds["B"])
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 17, f"child did not die at step {dying}"
        states.add(state(out, builds))
        _after_fault(root, out, builds, kind)
    assert {"A", "B"} <= states  # the kills landed both before and after the swap


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
    out = start(tmp_path, "symlink", builds)
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
    assert state(out, builds) == "A"  # the second build, published after the first, whole
    assert leftovers(tmp_path) == []


def _files(folder: Path) -> dict[str, bytes]:
    """A build's files, with build_stats.json's `built_at` (when that build ran) left out."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    stats = json.loads(files["build_stats.json"])
    files["build_stats.json"] = json.dumps(stats["rows"]).encode()
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
    raws = {"small": {"kita", "minato"}, "large": {"kita", "minato", "nishi", "tsurumi"}}
    expected = {}
    for name, slugs in raws.items():
        _seed_raw(tmp_path / name, slugs)
        ref = tmp_path / "ref" / name
        run.run_build(tmp_path / name, ref, tmp_path / f"cache-{name}")
        expected[name] = _files(ref)
    assert expected["small"]["policies.csv"] != expected["large"]["policies.csv"]
    out = tmp_path / "data" / "processed"
    builds = [
        _cli_build(tmp_path / name, out, tmp_path / f"cache-{name}", "--allow-shrink")
        for name in raws
    ]
    for process in builds:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    final = _files(out)
    assert final in (expected["small"], expected["large"])
    assert leftovers(tmp_path / "data") == []
    csv_and_parquet_agree(out)


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
    assert state_files_ok(tmp_path / "data" / "processed")


def state_files_ok(out: Path) -> bool:
    csv_and_parquet_agree(out)
    return sorted(_files(out)) == sorted([*TABLE_FILES, *DESCRIPTORS])
