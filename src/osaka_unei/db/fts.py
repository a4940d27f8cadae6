"""Japanese full-text search in plain SQLite FTS5: character bigrams spelled as ASCII tokens.

Why bigrams. SQLite's `unicode61` tokenizer splits on spaces and punctuation, and Japanese
puts no spaces between words, so a whole title would be one token; the `trigram` tokenizer
cannot find words shorter than three characters (防災, 区政). So every text is indexed as the
sequence of its overlapping character bigrams: 子育て支援 → 子育 育て て支 支援 援∅ (∅: end
of text). A query of n ≥ 2 characters becomes the phrase of its n - 1 bigrams (子育て →
"子育 育て"). A phrase matches only where its tokens stand at consecutive positions, and
position i of a text holds exactly the bigram of characters i and i + 1, so the phrase
matches exactly where the query's characters follow one another in the text: the index finds
a query if and only if it is a substring, the recall and precision of `LIKE '%query%'`, but
through an index and ranked by bm25. A one-character query is a prefix query on the bigrams
that start with it; the end token makes the last character of a text findable too.

Why hex. The bigram of two characters may hold punctuation or a space (化(, ・安), which
`unicode61` would split off. So each bigram is spelled as the hex code points of its two
characters joined by `g` (防災 → `9632g707d`; the end token of 防 is `9632g`): pure ASCII
letters and digits that `unicode61` keeps whole, and `g` never occurs in hex, so `9632g*`
matches exactly the tokens that start with 防. Both sides are NFKC-normalised and ASCII
letters lower-cased (what LIKE ignores too), so ｱ and ア, Ａ and a find each other.

The FTS table is an external-content table over `nodes` (the real text lives there once;
the index holds only the hex tokens): never run its 'rebuild' command, which would index
the raw text; rewrite the database instead. Words separated by spaces in a query must all
occur (AND), each as a substring.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Sequence

NODES = "nodes"
FTS = "nodes_fts"
FTS_INDEXED = ("title", "description")
FTS_UNINDEXED = (
    "level",
    "policy_id",
    "ward",
    "ward_slug",
    "fiscal_year",
    "code",
    "node_key",
)
# bm25 weights in FTS column order: a hit in a title counts ten times one in a description.
BM25 = f"bm25({FTS}, 10.0, 1.0)"
# A MATCH expression no document can satisfy: documents hold only hex digits and `g`.
NO_MATCH = '"z"'

# ASCII letters lower-cased on the UTF-8 bytes: a byte below 0x80 is always an ASCII
# character in UTF-8 (never part of another character's sequence), and bytes.translate is a
# table lookup, ~10× faster than str.translate with a dict.
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


def normalize(text: str) -> str:
    """NFKC, then ASCII letters lower-cased: the form both documents and queries take."""
    nfkc = unicodedata.normalize("NFKC", text)
    data = nfkc.encode("utf-8", "surrogatepass").translate(_ASCII_LOWER)
    return data.decode("utf-8", "surrogatepass")


@functools.cache
def _code(ch: str) -> str:
    return f"{ord(ch):x}"


class _Pairs(dict[int, str]):
    """Code point → `{hex} {hex}g`: translating the characters after the first with it
    closes each bigram token and opens the next (str.translate, one C loop a text)."""

    def __missing__(self, point: int) -> str:
        code = f"{point:x}"
        self[point] = text = f"{code} {code}g"
        return text


_PAIRS = _Pairs()


def bigram_tokens(text: str | None) -> str:
    """A text as space-separated hex bigram tokens, one per character position:
    `{c0}g{c1} {c1}g{c2} … {cn}g`, built as `{c0}g` + each later character's `{c} {c}g`."""
    if not text:
        return ""
    normal = normalize(text)
    if not normal:
        return ""
    return f"{ord(normal[0]):x}g" + normal[1:].translate(_PAIRS)


def bigram_column(texts: Sequence[str | None]) -> list[str]:
    """bigram_tokens of each text, each distinct text tokenised once."""
    memo: dict[str | None, str] = {}
    out = []
    for text in texts:
        tokens = memo.get(text)
        if tokens is None:
            tokens = memo[text] = bigram_tokens(text)
        out.append(tokens)
    return out


def query_terms(query: str) -> list[str]:
    """The words of a query (split on white space after normalising)."""
    return normalize(query).split()


def _term_match(term: str) -> str:
    codes = list(map(_code, term))
    if len(codes) == 1:
        return f'"{codes[0]}g"*'
    return '"' + " ".join(f"{a}g{b}" for a, b in itertools.pairwise(codes)) + '"'


def bigram_query(query: str | None) -> str:
    """The FTS5 MATCH expression for a query: each word a phrase of its bigrams, all ANDed.

    Safe for any input (only hex, `g`, quotes and `*` reach FTS5); an empty query matches
    nothing."""
    terms = query_terms(query or "")
    if not terms:
        return NO_MATCH
    return " AND ".join(_term_match(term) for term in terms)


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where the query's words occur in normalize(text), merged, in order (for highlighting)."""
    haystack = normalize(text)
    spans: list[tuple[int, int]] = []
    for term in query_terms(query):
        start = haystack.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = haystack.find(term, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def create_fts_sql() -> str:
    columns = [*FTS_INDEXED, *(f"{name} UNINDEXED" for name in FTS_UNINDEXED)]
    # content='nodes' in single quotes: Datasette offers its own ?_search= box only for
    # content="…" or content=[…], and that box would send raw text, which cannot match.
    return (
        f"CREATE VIRTUAL TABLE {FTS} USING fts5({', '.join(columns)}, "
        f"content='{NODES}', content_rowid='node_id', tokenize='unicode61')"
    )


def insert_fts_sql() -> str:
    names = ["rowid", *FTS_INDEXED, *FTS_UNINDEXED]
    return f"INSERT INTO {FTS} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
