"""Text normalisation shared by every stage, so that a live page and a capture of it agree."""

from __future__ import annotations

import re
import unicodedata

# NFKC would turn ①②③ into 1 2 3 and change the page's wording; the captures keep them.
_PROTECTED = re.compile(r"[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")
# C0/C1 controls other than tab/newline: stray bytes, and our own extraction sentinels.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def nfkc(text: str) -> str:
    """NFKC (full-width ASCII, ideographic space, CJK radicals folded), circled numbers kept."""
    if text.isascii():
        return text
    if not _PROTECTED.search(text):
        return unicodedata.normalize("NFKC", text)
    parts = []
    last = 0
    for match in _PROTECTED.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(parts)


def clean_line(text: str) -> str:
    """NFKC, then every run of white space (NBSP, U+3000, newlines) as one space, trimmed."""
    # The same as re.sub(r"\s+", " ", …).strip(): split, \s and strip take the same
    # characters as white space (test_adversarial checks), and split/join costs a third.
    return " ".join(nfkc(text).split())


def join_lines(lines: list[str]) -> str | None:
    """One line per bullet or paragraph, joined with newlines; None when there is nothing."""
    kept = [line for line in lines if line]
    return "\n".join(kept) if kept else None


def bounded(messages: list[str], limit: int, width: int = 300) -> list[str]:
    """The first `limit` messages, each cut to `width` characters, then one line saying how
    many more there were: a list of messages that never grows with its input (a page's
    warnings, a curated file's bad rows)."""
    kept = [m if len(m) <= width else m[: width - 1] + "…" for m in messages[:limit]]
    if len(messages) > limit:
        kept.append(f"… and {len(messages) - limit:,} more")
    return kept
