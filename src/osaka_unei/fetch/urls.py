"""Addresses on the city's site: which host, which origin, how a mirror maps onto it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from osaka_unei.wards import SITE_HOST

SITE_ORIGIN = f"https://{SITE_HOST}"

# --- addresses --------------------------------------------------------------------------


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def rebase_url(url: str, base_url: str | None) -> str:
    """The address to request: ``base_url``'s scheme and host (and path prefix) + url's path."""
    if not base_url:
        return url
    base, parts = urlsplit(base_url), urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def canonical_url(url: str, base_url: str | None) -> str | None:
    """A link as a city address, or None when it leads off the allowed host(s)."""
    url = normalise_url(url)
    parts = urlsplit(url)
    if origin_of(url) == SITE_ORIGIN:
        return url
    if base_url:
        base = urlsplit(base_url)
        prefix = base.path.rstrip("/")
        same_origin = origin_of(url) == origin_of(base_url)
        if same_origin and parts.path.startswith(prefix + "/"):
            path = parts.path[len(prefix) :]
            return urlunsplit(("https", SITE_HOST, path, parts.query, ""))
    return None


def request_address(url: str, base_url: str | None) -> str | None:
    """Where to request a page named by `url`: a city address (on the mirror when
    `base_url` names one), or an address already on that mirror; None for anything else
    (another host, localhost included), which is never requested."""
    canonical = canonical_url(url, base_url) if is_http_url(url.strip()) else None
    return rebase_url(canonical, base_url) if canonical is not None else None


def normalise_url(url: str) -> str:
    """Strip blanks and the fragment; older captures use http:// for the city's host."""
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme == "http" and parts.hostname == SITE_HOST else parts.scheme
    return urlunsplit((scheme, parts.netloc.lower(), parts.path, parts.query, ""))
