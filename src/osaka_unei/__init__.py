"""osaka-unei: Osaka City ward operating policies (区運営方針) as a dataset."""

from osaka_unei.models import (
    PARSER_VERSION,
    Budget,
    Initiative,
    Issue,
    Reform,
    Strategy,
    WardPolicy,
)

__all__ = [
    "PARSER_VERSION",
    "Budget",
    "Initiative",
    "Issue",
    "Reform",
    "Strategy",
    "WardPolicy",
    "parse_page",
]


def __getattr__(name: str) -> object:
    # Lazy so that `import osaka_unei` stays cheap for the CLI and notebooks.
    if name == "parse_page":
        from osaka_unei.parse import parse_page

        return parse_page
    if name == "load":
        from osaka_unei.export import load

        return load
    raise AttributeError(name)
