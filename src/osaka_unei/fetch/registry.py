"""The registry of known page addresses (data/registry.csv): read, write, select, and
where each page's versions are stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from osaka_unei import store
from osaka_unei.errors import BadInputError
from osaka_unei.fetch.urls import normalise_url
from osaka_unei.wards import page_address

REGISTRY_FIELDS = ("url", "ward", "ward_slug", "fiscal_year", "page_id")
_SAFE_PART = re.compile(r"^[a-z0-9_-]{1,64}$")

# --- registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One registry row: a known page address and what is known about it."""

    url: str
    ward: str | None = None
    ward_slug: str | None = None
    fiscal_year: int | None = None
    page_id: str | None = None


def _int_or_none(value: str | None) -> int | None:
    """A whole number in ASCII digits (٢٠١٨ is no year; int() fails past 4,300 digits, and a
    long page id must stay long, to be refused as an unsafe file name)."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 4_000 else None


def load_registry(path: Path) -> list[Page]:
    """Registry rows in file order, one per address; only the ``url`` column is required.
    BadInputError (one line) for a file that cannot be read or has no ``url`` column."""
    try:
        return _read_registry(path)
    except OSError as exc:
        raise BadInputError(f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 ({exc.reason})") from exc


def _read_registry(path: Path) -> list[Page]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "url" not in (reader.fieldnames or []):
            raise BadInputError(f"{path}: no 'url' column")
        pages: dict[str, Page] = {}
        for row in reader:
            url = normalise_url(row.get("url") or "")
            if not url or url in pages:
                continue
            page_id = _int_or_none(row.get("page_id"))
            pages[url] = Page(
                url=url,
                ward=(row.get("ward") or "").strip() or None,
                ward_slug=(row.get("ward_slug") or "").strip() or None,
                fiscal_year=_int_or_none(row.get("fiscal_year")),
                page_id=str(page_id) if page_id is not None else None,
            )
    return list(pages.values())


def _registry_order(page: Page) -> tuple[str, int, int, str]:
    return (page.ward_slug or "~", page.fiscal_year or 0, int(page.page_id or 0), page.url)


def save_registry(path: Path, pages: Iterable[Page]) -> None:
    """Write the registry sorted by ward, year and page id, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REGISTRY_FIELDS)
    for page in sorted(pages, key=_registry_order):
        writer.writerow(
            [
                page.url,
                page.ward or "",
                page.ward_slug or "",
                page.fiscal_year or "",
                page.page_id or "",
            ]
        )
    store.write_atomic(path, buffer.getvalue().encode("utf-8"))


def select_pages(pages: Iterable[Page], wards: Sequence[str], years: Sequence[int]) -> list[Page]:
    """Pages of the given wards and years (an empty filter keeps everything)."""
    chosen = []
    for page in pages:
        slug = page.ward_slug or storage_key(page)[0]
        if wards and slug not in wards:
            continue
        if years and page.fiscal_year not in years:
            continue
        chosen.append(page)
    return chosen


def storage_key(page: Page) -> tuple[str, str]:
    """(ward_slug, page_id) naming the page's files: from the row, else the URL path, else
    'unknown' and a hash of the URL; never URL text, so no path can be smuggled in."""
    address = page_address(page.url)
    slug = page.ward_slug if page.ward_slug and _SAFE_PART.match(page.ward_slug) else None
    slug = slug or (address[0] if address else None) or "unknown"
    page_id = page.page_id if page.page_id and page.page_id.isdigit() else None
    if page_id is None and address:
        page_id = address[1]
    if page_id is None:
        page_id = hashlib.sha256(page.url.encode("utf-8")).hexdigest()[:12]
    return slug, page_id
