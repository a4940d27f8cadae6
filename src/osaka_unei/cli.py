"""The `osaka-unei` command line: one command per stage, thin wrappers over the library."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Osaka City ward 運営方針 pages → a tidy dataset.",
)

_state = {"debug": False}


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit; a traceback only with --debug."""
    if _state["debug"] and sys.exc_info()[0] is not None:
        raise
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


class OutputFormat(StrEnum):
    json = "json"
    summary = "summary"


@app.command()
def parse(
    source: Annotated[str, typer.Argument(help="A raw page, a text capture, or an address.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="json (default) or summary.")
    ] = OutputFormat.json,
) -> None:
    """Parse one ward 運営方針 page and print it as JSON or as a readable tree."""
    from osaka_unei.parse import PageError, parse_source, render_summary

    try:
        policy = parse_source(source)
    except PageError as exc:
        fail(str(exc))
    for warning in policy.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if output_format is OutputFormat.summary:
        typer.echo(render_summary(policy))
    else:
        # UTF-8 whatever the terminal's locale, Japanese unescaped.
        sys.stdout.buffer.write(policy.model_dump_json(indent=2).encode("utf-8") + b"\n")
        sys.stdout.flush()


# --- fetch stage (issue 3) -------------------------------------------------------------


@app.command()
def fetch() -> None:
    """Download ward pages into data/raw/ (not built yet)."""
    fail("fetch is not implemented yet")


@app.command()
def discover() -> None:
    """Find ward pages the registry lacks (not built yet)."""
    fail("discover is not implemented yet")


# --- build stage (issue 4) -------------------------------------------------------------


@app.command()
def build() -> None:
    """Parse the raw store into data/processed/ (not built yet)."""
    fail("build is not implemented yet")
