"""Fetch settings are declared once (osaka_unei/settings.py): the CLI, the run's options and the
client all take their defaults and help from there (issue 20)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import typer

from osaka_unei.cli import app
from osaka_unei.fetch import FetchOptions, PoliteClient
from osaka_unei.settings import DEFAULTS, SETTINGS


def _params(command: str) -> dict[str, Any]:
    group: Any = typer.main.get_command(app)  # a click Group
    return {param.opts[0]: param for param in group.commands[command].params}


def test_cli_options_read_the_settings() -> None:
    for command in ("fetch", "discover"):
        params = _params(command)
        for setting in SETTINGS.values():
            param = params.get(setting.option)
            if param is None:
                continue
            assert param.default == setting.default, (command, setting.name)
            assert param.help == setting.help
            assert param.hidden == setting.hidden
    assert {s.option for s in SETTINGS.values()} <= set(_params("fetch"))


def test_fetch_options_and_the_client_default_to_the_settings() -> None:
    options = FetchOptions()
    client = inspect.signature(PoliteClient).parameters
    for field in dataclasses.fields(DEFAULTS):
        assert getattr(options, field.name) == getattr(DEFAULTS, field.name), field.name
        if field.name in client:
            assert client[field.name].default == getattr(DEFAULTS, field.name), field.name
