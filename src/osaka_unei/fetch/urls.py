"""Addresses on the city's site: which host, which origin, how a mirror maps onto it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from osaka_unei.calendar import fiscal_year_problem
from osaka_unei.models import RawRecord
from osaka_unei.wards import SITE_HOST

SITE_ORIGIN = f"https://{SITE_HOST}"
# An address kept in the data: printable ASCII URL characters only (RFC 3986; no blanks,
# quotes or angle brackets), and not longer than any real page address needs.
_URL_TEXT = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,2000}$")

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


def has_userinfo(url: str) -> bool:
    """True where the address carries a user name or password (user:secret@host)."""
    return "@" in urlsplit(url).netloc


def without_userinfo(url: str) -> str:
    """The address without user name and password: none is ever written anywhere."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def base_url_problem(base_url: str) -> str | None:
    """Why a --base-url cannot name a mirror, or None: an http(s) address without
    credentials (they would end up in every manifest line that names the mirror)."""
    if not is_http_url(base_url.strip()):
        return f"--base-url must be an http(s) address: {without_userinfo(base_url)}"
    if has_userinfo(base_url):
        return (
            "--base-url must not carry a user name or password (user:password@host): "
            f"{without_userinfo(base_url)}"
        )
    return None


def address_problem(url: str) -> str | None:
    """Why an address read back from the store, the registry or a curated file is not a
    page of the city's site as fetch would request it (so never data, nor a link), or None.
    It must be an https address on the city's host, in its normal form (as
    normalise_url writes it), of URL characters only. The reason never repeats the
    address (a `javascript:` text is no better in a message than in a link)."""
    if not _URL_TEXT.match(url):
        return "not an address (blank, quote, control or non-ASCII character, or too long)"
    if has_userinfo(url):
        return "an address with a user name or password"
    if not is_http_url(url) or origin_of(url) != SITE_ORIGIN:
        return f"not an address on {SITE_ORIGIN}/"
    if normalise_url(url) != url:
        return "not in normal form (a fragment, or an upper-case host)"
    return None


def record_problem(record: RawRecord) -> str | None:
    """Why a manifest line naming a stored file cannot be believed, or None. The store is
    data: its `url` must be a city address as fetch requests it (it becomes policies.url,
    parse_report.url and versions.url), its `final_url` an http(s) address without
    credentials, its fiscal year within the site's range. A line naming no file (a failed
    fetch, a bad registry row) is never data: not checked."""
    if record.path is None:
        return None
    problem = address_problem(record.url)
    if problem is not None:
        return f"url: {problem}"
    final = record.final_url
    if final is not None and (
        not _URL_TEXT.match(final) or not is_http_url(final) or has_userinfo(final)
    ):
        return "final_url: not an http(s) address without credentials"
    if record.fiscal_year is not None and (problem := fiscal_year_problem(record.fiscal_year)):
        return f"fiscal_year: {problem}"
    return None
