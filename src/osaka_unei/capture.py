"""Text captures: a page a user saved by hand, stored in the raw store like a fetched one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from osaka_unei import store
from osaka_unei.dataset.flatten import as_utc
from osaka_unei.models import (
    RawRecord,
)
from osaka_unei.wards import SLUG_WARDS, page_address

SITE_PREFIXES = ("https://www.city.osaka.lg.jp/", "http://www.city.osaka.lg.jp/")
SOURCE_URL = "https://www.city.osaka.lg.jp/"


def capture_address(url: str) -> tuple[str, str, str]:
    """(normalised https url, ward slug, page id) of a ward page address, or ValueError."""
    address = page_address(url.strip()) if url.strip().startswith(SITE_PREFIXES) else None
    if address is None or address[0] not in SLUG_WARDS:
        raise ValueError(
            f"not a ward page address: {url} (expected {SOURCE_URL}{{ward}}/page/{{number}}.html)"
        )
    slug, number = address[0], int(address[1])
    # The registry's form (10-digit page number), so a later fetch of the page supersedes it.
    return f"{SOURCE_URL}{slug}/page/{number:010d}.html", slug, str(number)


def add_capture(raw_dir: Path, data: bytes, url: str, now: dt.datetime) -> tuple[RawRecord, bool]:
    """Store a text capture of a ward page and record it; (record, False) if that capture
    of that address is already recorded."""
    address, slug, page_id = capture_address(url)
    if not data.strip():
        raise ValueError("the capture is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the capture is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from exc
    sha256 = store.sha256_hex(data)
    for record in store.read_manifest(raw_dir):
        if record.url == address and record.sha256 == sha256 and record.path:
            store.store_version(raw_dir, slug, page_id, data, "txt")  # restore a lost file
            return record, False
    path = store.store_version(raw_dir, slug, page_id, data, "txt")
    record = RawRecord(
        url=address,
        fetched_at=as_utc(now),
        content_type="text/plain; charset=utf-8",
        charset="utf-8",
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
