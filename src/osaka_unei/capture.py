"""Captures: a page a user saved by hand (text, or HTML saved from a browser), checked by
parsing it as the build will, then stored in the raw store like a fetched one."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from osaka_unei import store
from osaka_unei.dataset.flatten import as_utc
from osaka_unei.decoding import decode_detailed
from osaka_unei.errors import BadInputError
from osaka_unei.models import (
    RawRecord,
    WardPolicy,
)
from osaka_unei.parse import PageError, parse_page
from osaka_unei.parse.extract import looks_like_html
from osaka_unei.wards import SITE_HOST, SITE_URL, SLUG_WARDS, page_address

SITE_PREFIXES = (SITE_URL, f"http://{SITE_HOST}/")


def read_capture(path: Path, limit: int = store.MAX_PAGE_BYTES) -> bytes:
    """A capture's bytes, read up to the fetcher's cap (10 MB; no ward page is near it):
    BadInputError (one line) past it, so `add-capture /dev/zero` stops at once. OSError for a
    file that cannot be read."""
    data = store.read_bounded(path, limit)
    if data is None:
        raise BadInputError(
            f"not stored: {path} is larger than {limit:,} bytes (the fetcher's cap)"
        )
    return data


def capture_address(url: str) -> tuple[str, str, str]:
    """(normalised https url, ward slug, page id) of a ward page address, or BadInputError."""
    address = page_address(url.strip()) if url.strip().startswith(SITE_PREFIXES) else None
    if address is None or address[0] not in SLUG_WARDS:
        raise BadInputError(
            f"not a ward page address: {url} (expected {SITE_URL}{{ward}}/page/{{number}}.html)"
        )
    slug, number = address[0], int(address[1])
    # The registry's form (10-digit page number), so a later fetch of the page supersedes it.
    return f"{SITE_URL}{slug}/page/{number:010d}.html", slug, str(number)


def capture_kind(data: bytes) -> str:
    """'html' or 'txt': the extension the page is stored with, decided as the parser decides
    (a stored .txt is always read as a text capture, anything else by its content)."""
    try:
        text, _, _ = decode_detailed(data, None)
    except PageError as exc:
        raise BadInputError(f"the capture cannot be read: {exc}") from exc
    return "html" if looks_like_html(text) else "txt"


def check_capture(data: bytes, ext: str, address: str, slug: str, page_id: str) -> WardPolicy:
    """Parse the capture exactly as the build will (same file extension, no transport
    charset); BadInputError (one line) unless it is the ward 運営方針 page --url names."""
    with tempfile.TemporaryDirectory(prefix="osaka-unei-capture-") as folder:
        path = Path(folder) / f"capture.{ext}"
        path.write_bytes(data)
        try:
            policy = parse_page(path, url=address, http_charset=None)
        except PageError as exc:
            raise BadInputError(f"not stored: {exc}") from exc
    if policy.ward_slug != slug:
        raise BadInputError(
            f"not stored: the page is {policy.ward}'s ({policy.ward_slug}) but --url names {slug}"
        )
    if policy.page_id != page_id:
        raise BadInputError(
            f"not stored: the page's number is {policy.page_id} but --url names {page_id}"
        )
    return policy


def add_capture(raw_dir: Path, data: bytes, url: str, now: dt.datetime) -> tuple[RawRecord, bool]:
    """Store a page a user saved by hand and record it; (record, False) if that capture of
    that address is already recorded.

    A text capture or an HTML file saved from a browser, in any encoding the parser reads.
    It is parsed first, as the build will parse it, and stored only if it is the ward
    運営方針 page --url names (BadInputError, one line, otherwise): the build never meets a
    stored capture that `parse` would read differently."""
    address, slug, page_id = capture_address(url)
    if len(data) > store.MAX_PAGE_BYTES:
        raise BadInputError(
            f"not stored: the capture is larger than {store.MAX_PAGE_BYTES:,} bytes"
        )
    if not data.strip():
        raise BadInputError("the capture is empty")
    ext = capture_kind(data)
    check_capture(data, ext, address, slug, page_id)
    sha256 = store.sha256_hex(data)
    for record in store.read_manifest(raw_dir):
        if record.url == address and record.sha256 == sha256 and record.path:
            store.store_version(raw_dir, slug, page_id, data, ext)  # restore a lost file
            return record, False
    path = store.store_version(raw_dir, slug, page_id, data, ext)
    record = RawRecord(
        url=address,
        fetched_at=as_utc(now),
        content_type="text/html" if ext == "html" else "text/plain",
        charset=None,  # no transport charset: BOM, meta charset or detection, as in parse
        sha256=sha256,
        size=len(data),
        outcome="capture",
        path=path,
        ward_slug=slug,
        page_id=page_id,
        source_kind="capture",
    )
    store.append_manifest(raw_dir, [record])
    return record, True
