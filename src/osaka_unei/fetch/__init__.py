"""Stage 1, fetch: the city's site → the raw store (``data/raw/``, see store.py).

In: the registry of known page addresses (``data/registry.csv``) and the site itself.
Out: every version of every page as received, and one manifest line per attempt; nothing
is parsed here. ``discover`` grows the registry from the wards' listing pages.

Modules: ``urls`` (the one allowed host, mirrors), ``registry`` (known pages),
``client`` (politeness, limits, retries), ``run`` (a fetch run into the store),
``discovery`` (new pages from listing pages).
"""

from osaka_unei.fetch.client import (
    MAX_BYTES,
    USER_AGENT,
    Answer,
    PoliteClient,
    Unreachable,
    conditional_headers,
    parse_charset,
    parse_retry_after,
)
from osaka_unei.fetch.discovery import (
    Discovery,
    Link,
    classify_text,
    decode_html,
    discover,
    extract_links,
    page_title,
    title_fiscal_year,
)
from osaka_unei.fetch.registry import (
    REGISTRY_FIELDS,
    Page,
    load_registry,
    save_registry,
    select_pages,
    storage_key,
)
from osaka_unei.fetch.run import (
    FetchOptions,
    FetchSummary,
    fetch_one,
    fetch_page,
    previous_versions,
    record_for,
    run_fetch,
    run_fetch_with_progress,
)
from osaka_unei.fetch.urls import (
    SITE_HOST,
    SITE_ORIGIN,
    canonical_url,
    is_http_url,
    normalise_url,
    origin_of,
    rebase_url,
)

__all__ = [
    "MAX_BYTES",
    "REGISTRY_FIELDS",
    "SITE_HOST",
    "SITE_ORIGIN",
    "USER_AGENT",
    "Answer",
    "Discovery",
    "FetchOptions",
    "FetchSummary",
    "Link",
    "Page",
    "PoliteClient",
    "Unreachable",
    "canonical_url",
    "classify_text",
    "conditional_headers",
    "decode_html",
    "discover",
    "extract_links",
    "fetch_one",
    "fetch_page",
    "is_http_url",
    "load_registry",
    "normalise_url",
    "origin_of",
    "page_title",
    "parse_charset",
    "parse_retry_after",
    "previous_versions",
    "rebase_url",
    "record_for",
    "run_fetch",
    "run_fetch_with_progress",
    "save_registry",
    "select_pages",
    "storage_key",
    "title_fiscal_year",
]
