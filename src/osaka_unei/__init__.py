"""osaka-unei: Osaka City ward operating policies (区運営方針) as a dataset.

Public API: ``parse_page`` (one page → WardPolicy), ``build`` (raw store → published
dataset), ``load`` (the published tables as DataFrames), and the models.

The stages, each a subpackage, in the order data flows through them (a stage imports only
those before it and the shared modules: models, levels, wards, calendar, text, decoding,
errors, store):
``fetch`` (site → raw store) → ``parse`` (one page → WardPolicy) → ``dataset`` (policies →
checked tables and their column specs) → ``analysis`` (lineage, themes, versions, changes)
→ ``db`` (SQLite with Japanese search, Datasette metadata) and ``report`` (the static site)
→ ``publish`` (the build and report runs: all of it, each published as one unit);
``views`` (the command line's tables and summaries, after ``db``).
``sources`` and ``capture`` put a page in from the command line; ``cli`` is the thin
command line over all of them.
"""

__all__ = [
    "PARSER_VERSION",
    "Budget",
    "Initiative",
    "Issue",
    "Reform",
    "Strategy",
    "WardPolicy",
    "build",
    "load",
    "parse_page",
]


_MODELS = {"PARSER_VERSION", "Budget", "Initiative", "Issue", "Reform", "Strategy", "WardPolicy"}


def __getattr__(name: str) -> object:
    # Lazy so that `import osaka_unei` stays cheap for the CLI and notebooks: the models
    # bring pydantic (~0.4 s), which `search`, `history` and `--help` never need.
    if name in _MODELS:
        from osaka_unei import models

        return getattr(models, name)
    if name == "parse_page":
        from osaka_unei.parse import parse_page

        return parse_page
    if name == "load":
        from osaka_unei.dataset.load import load

        return load
    if name == "build":
        from osaka_unei.publish.run import run_build

        return run_build
    raise AttributeError(name)
