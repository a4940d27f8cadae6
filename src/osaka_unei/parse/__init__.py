"""Stage 2, parse: the bytes of one stored page → a ``WardPolicy`` (models.py).

In: raw bytes (HTML as served, or a text capture) and the address they came from.
Out: one validated WardPolicy, with every oddity in its ``warnings``; a page that is not a
ward 運営方針 page raises a one-line ``PageError``.

The modules, in the order a page goes through them:
``nesting`` (pages nested too deep are refused first), ``extract`` (bytes → lines),
``variants`` (every heading and budget form, as data),
``forms`` (the index that finds the form reading a line), ``headings`` and ``budgets``
(one line → a heading, amounts in 千円), ``rules`` (the line walk), ``tree`` (the hierarchy
from the numbers), ``page`` (the whole page and its sanity check). The tree for people,
``parse --format summary``, is ``osaka_unei.views.summary``.
"""

from osaka_unei.errors import (
    EmptyInputError,
    NotAPolicyPageError,
    NotAWardPageError,
    PageError,
    UndecodableInputError,
)
from osaka_unei.parse.page import build_policy, parse_page

__all__ = [
    "EmptyInputError",
    "NotAPolicyPageError",
    "NotAWardPageError",
    "PageError",
    "UndecodableInputError",
    "build_policy",
    "parse_page",
]
