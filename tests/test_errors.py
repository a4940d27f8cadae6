"""The error tree: one root, one exit code per kind, and the CLI maps it (issue 20)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import osaka_unei
from osaka_unei import cli, errors
from osaka_unei.errors import EXIT_CODES, INTERNAL_ERROR_EXIT, OsakaUneiError, exit_code

KINDS = (
    errors.BadInputError,
    errors.NotBuiltError,
    errors.StoreError,
    errors.CuratedFileError,
    errors.SiteError,
    errors.FetchFailedError,
    errors.CheckError,
    errors.BusyError,
    errors.InternalError,
)


def _all_error_classes() -> list[type[BaseException]]:
    """Every exception class defined in the package (imports every module)."""
    found = []
    for info in pkgutil.walk_packages(osaka_unei.__path__, "osaka_unei."):
        if ".datasette_plugins" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def test_every_kind_has_one_exit_code() -> None:
    assert set(KINDS) <= set(EXIT_CODES)
    assert {exit_code(kind) for kind in KINDS} == {1, 2, 3, 4, INTERNAL_ERROR_EXIT}
    assert exit_code(errors.NotAWardPageError("x")) == 2
    assert exit_code(errors.CheckError) == 1


def test_every_error_of_ours_is_in_the_tree() -> None:
    classes = _all_error_classes()
    assert len(classes) >= 15
    # private control flow that never leaves its module is the only exception
    outside = [c.__qualname__ for c in classes if not issubclass(c, OsakaUneiError)]
    assert sorted(outside) == ["_Changed", "_NearDropped"]
    for cls in classes:
        if issubclass(cls, OsakaUneiError) and cls is not OsakaUneiError:
            assert any(issubclass(cls, kind) for kind in KINDS), cls


def test_old_names_still_import_and_still_catch_as_before() -> None:
    from osaka_unei.analysis.themes import CodebookError, OverrideError
    from osaka_unei.dataset.checks import CheckError
    from osaka_unei.fetch import Unreachable
    from osaka_unei.parse import PageError
    from osaka_unei.publish.atomic import Busy
    from osaka_unei.published import NotWhole

    assert issubclass(CodebookError, ValueError) and issubclass(OverrideError, ValueError)
    assert issubclass(NotWhole, ValueError) and exit_code(NotWhole) == 2
    assert CheckError is errors.CheckError
    assert exit_code(Busy) == 3 and exit_code(Unreachable) == 4
    assert exit_code(PageError) == 2


def test_a_user_error_is_one_line_with_its_kinds_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from osaka_unei.views import history

    def busy(*_: object) -> None:
        raise errors.BusyError("another build is running\n(pid 1)")

    monkeypatch.setattr(history, "history", busy)
    processed = Path(__file__).resolve().parents[1] / "data" / "processed"
    result = CliRunner().invoke(cli.app, ["history", "kita", "--processed-dir", str(processed)])
    assert result.exit_code == 3
    assert result.output == "error: another build is running (pid 1)\n"


def test_a_bare_value_error_is_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a tidy `error:` line with exit 2, as when the handlers caught ValueError."""
    from osaka_unei.views import history

    def bug(*_: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(history, "history", bug)
    processed = Path(__file__).resolve().parents[1] / "data" / "processed"
    monkeypatch.setattr(
        sys, "argv", ["osaka-unei", "history", "kita", "--processed-dir", str(processed)]
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == INTERNAL_ERROR_EXIT
    assert capsys.readouterr().err.startswith("error: internal error (ValueError: a bug)")


def test_an_os_error_naming_a_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(
        cli.app,
        ["build", "--raw-dir", str(tmp_path / "raw"), "--out-dir", str(tmp_path / "a-file" / "out"),
         "--cache-dir", str(tmp_path / "cache")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot use ")
    assert result.output.count("\n") == 1
