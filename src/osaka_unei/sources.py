"""A page named on the command line: a file, or an address on the city's site (or on the
``--base-url`` mirror) fetched politely. Sits above fetch and parse, which never import
each other.
"""

from __future__ import annotations

from pathlib import Path

from osaka_unei.errors import (
    EmptyInputError,
    NotAPolicyPageError,
    NotAWardPageError,
    UndecodableInputError,
)
from osaka_unei.models import WardPolicy
from osaka_unei.parse import PageError, parse_page


def fetched_page_problem(exc: PageError) -> str:
    """Why a fetched page did not parse, in words that never quote the page: a server can
    put anything in its answer, and the message goes to the user's terminal."""
    if isinstance(exc, NotAWardPageError):
        return "a 運営方針 page, but not a ward's"
    if isinstance(exc, NotAPolicyPageError):
        return "not a 運営方針 page"
    if isinstance(exc, EmptyInputError):
        return "empty page"
    if isinstance(exc, UndecodableInputError):
        return "undecodable page"
    return "the page cannot be parsed"


def parse_source(source: str, base_url: str | None = None) -> WardPolicy:
    """The CLI's entry: a path to a file, or an http(s) address on the city's site (or on
    the `base_url` mirror), fetched politely."""
    if source.startswith(("http://", "https://")):
        from osaka_unei.fetch import fetch_one

        data, charset, final_url = fetch_one(source, base_url=base_url)
        try:
            return parse_page(data, url=final_url, http_charset=charset)
        except PageError as exc:
            raise PageError(f"{final_url}: {fetched_page_problem(exc)}") from exc
    path = Path(source)
    if not path.is_file():
        raise PageError(f"no such file: {source}")
    try:
        return parse_page(path)
    except OSError as exc:
        raise PageError(f"cannot read {source}: {exc.strerror or exc}") from exc
