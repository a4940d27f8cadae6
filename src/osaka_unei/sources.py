"""A page named on the command line: a file, or an address on the city's site fetched
politely. Sits above fetch and parse, which never import each other.
"""

from __future__ import annotations

from pathlib import Path

from osaka_unei.models import WardPolicy
from osaka_unei.parse import PageError, parse_page


def parse_source(source: str) -> WardPolicy:
    """The CLI's entry: a path to a file, or an http(s) address fetched politely."""
    if source.startswith(("http://", "https://")):
        from osaka_unei.fetch import fetch_one

        data, charset, final_url = fetch_one(source)
        return parse_page(data, url=final_url, http_charset=charset)
    path = Path(source)
    if not path.is_file():
        raise PageError(f"no such file: {source}")
    try:
        return parse_page(path)
    except OSError as exc:
        raise PageError(f"cannot read {source}: {exc.strerror or exc}") from exc
