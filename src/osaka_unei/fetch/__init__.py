"""Stage 1, fetch: the city's site → the raw store (``data/raw/``, see store.py).

In: the registry of known page addresses (``data/registry.csv``) and the site itself.
Out: every version of every page as received, and one manifest line per attempt; nothing
is parsed here. ``discover`` grows the registry from the wards' listing pages.

Modules: ``urls`` (the one allowed host, mirrors), ``registry`` (known pages),
``client`` (politeness, limits, deadlines, retries), ``refresh`` (which pages can still
change), ``run`` (a fetch run into the store), ``discovery`` (new pages from listing pages).
"""

from osaka_unei.fetch.client import (
    DEADLINE,
    MAX_BYTES,
    PAGE_BUDGET,
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
from osaka_unei.fetch.refresh import (
    MAX_AGE_DAYS,
    check_reason,
    fiscal_year_of,
    is_draft_page,
    pages_to_check,
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
    row_problem,
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
    request_address,
)

__all__ = [
    "DEADLINE",
    "MAX_AGE_DAYS",
    "MAX_BYTES",
    "PAGE_BUDGET",
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
    "check_reason",
    "classify_text",
    "conditional_headers",
    "decode_html",
    "discover",
    "extract_links",
    "fetch_one",
    "fetch_page",
    "fiscal_year_of",
    "is_draft_page",
    "is_http_url",
    "load_registry",
    "normalise_url",
    "origin_of",
    "page_title",
    "pages_to_check",
    "parse_charset",
    "parse_retry_after",
    "previous_versions",
    "rebase_url",
    "record_for",
    "request_address",
    "row_problem",
    "run_fetch",
    "run_fetch_with_progress",
    "save_registry",
    "select_pages",
    "storage_key",
    "title_fiscal_year",
]
