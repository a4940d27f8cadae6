"""The form index: every line form of every table in ``variants``, in the order the rules
try them, and the first form that reads a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import cast

import regex

from osaka_unei.parse import variants as v

_FIRST_TWO = itemgetter(slice(0, 2))

# --- page metadata -----------------------------------------------------------------------


# What the form index knows of a line, (at, match): every form before position `at` fails
# to read it; `match` is the match of the form at `at` when it reads the line (None: not
# known). A plain tuple: a line's reading is made for every line.
Reading = tuple[int, re.Match[str] | None]


# Forms to try on a line, in order: (position, the form's match or search).
_Tries = tuple[tuple[int, Callable[[str], "re.Match[str] | None"]], ...]


def _first_read(text: str, tries: _Tries, nothing: Reading) -> Reading:
    for at, matcher in tries:
        match = matcher(text)
        if match is not None:
            return at, match
    return nothing


class _FormIndex:
    """Every line form of every table, in the order the rules try them, and the first of
    them that reads a line (`read`). Forms before that one are known to fail, so a table
    is tried from there on only (`match`) and a line that no form reads is not tried at
    all: most lines are settled by one call.

    The forms worth trying on a line are those that can begin with its first two
    characters, worked out once per pair by partial matching (the `regex` module: can a
    match start with these characters?). Forms with hints may match anywhere in a line and
    are tried only where one of their hints occurs.
    """

    def __init__(self, tables: dict[str, tuple[v.Form, ...]]) -> None:
        self.forms: list[v.Form] = []
        self.spans: dict[str, tuple[int, int]] = {}  # table → (start, stop) positions
        self.table_at: list[str | None] = []  # position → its table's name
        for name, forms in tables.items():
            self.spans[name] = (len(self.forms), len(self.forms) + len(forms))
            self.forms.extend(forms)
            self.table_at.extend([name] * len(forms))
        self.none = len(self.forms)  # `at` of a line that no form reads
        self._nothing: Reading = (self.none, None)
        # position → the call that tries the form on a line: anchored, or anywhere (hints)
        self._matchers = [
            form.pattern.search if form.hints else form.pattern.match for form in self.forms
        ]
        self.table_at.append(None)
        self._floating = tuple(at for at, form in enumerate(self.forms) if form.hints)
        self._any_hint = re.compile(
            "|".join(re.escape(hint) for form in self.forms for hint in form.hints)
        )
        # position → the form as a `regex` pattern, for partial matching (unhinted forms)
        self._starts = {
            at: regex.compile(form.pattern.pattern)
            for at, form in enumerate(self.forms)
            if not form.hints
        }
        # first character → forms that can begin so; first two → (the same, + hinted forms)
        self._by_first: dict[str, tuple[int, ...]] = {}
        self._by_start: dict[str, tuple[_Tries, _Tries]] = {}

    def _can_begin(self, begin: str, positions: Iterable[int]) -> tuple[int, ...]:
        return tuple(at for at in positions if self._starts[at].match(begin, partial=True))

    def _candidates(self, begin: str) -> tuple[_Tries, _Tries]:
        """The forms that can begin with `begin`, without and with the hinted forms. Found
        among those that can begin with its first character (also kept), so that a page of
        many distinct lines costs partial matches only where a line starts like a form."""
        first = begin[:1]
        if first not in self._by_first:
            self._by_first[first] = self._can_begin(first, self._starts)
        can = self._can_begin(begin, self._by_first[first])
        return self._tries(can), self._tries(sorted(can + self._floating))

    def _tries(self, positions: Iterable[int]) -> _Tries:
        return tuple((at, self._matchers[at]) for at in positions)

    def _candidates_for(self, begin: str) -> tuple[_Tries, _Tries]:
        candidates = self._by_start.get(begin)
        if candidates is None:
            candidates = self._by_start[begin] = self._candidates(begin)
        return candidates

    def _first(self, text: str, start: int, stop: int) -> Reading:
        """The first form from position `start` to `stop` that reads `text`."""
        plain, with_hints = self._candidates_for(text[:2])
        for at, matcher in with_hints if self._any_hint.search(text) else plain:
            if at < start:
                continue
            if at >= stop:
                break
            match = matcher(text)
            if match is not None:
                return at, match
        return self.none, None

    def read(self, text: str) -> Reading:
        """The first form that reads `text` and its match; (self.none, None) if none."""
        return self._first(text, 0, self.none)

    def read_all(self, texts: list[str]) -> list[Reading]:
        """read() of every line of a page, in one pass: most lines begin like no form and
        hold no hint, and are settled with no call per line (profiled: a sixth faster)."""
        begins = list(map(_FIRST_TWO, texts))
        cached = list(map(self._by_start.get, begins))
        candidates = (
            list(map(self._candidates_for, begins))
            if None in cached  # a line start not seen before
            else cast(list[tuple[_Tries, _Tries]], cached)  # no None among them
        )
        hint = self._any_hint.search
        nothing = self._nothing
        # Half the lines of a page begin like no form and hold no hint: no call for them.
        return [
            _first_read(text, tries, nothing)
            if (tries := with_hints if hint(text) else plain)
            else nothing
            for text, (plain, with_hints) in zip(texts, candidates, strict=True)
        ]

    def match(
        self, table: str, text: str, reading: Reading
    ) -> tuple[int, v.Form, re.Match[str]] | None:
        """The first form of `table` that reads `text` (position, form, match), given what
        `reading` knows."""
        start, stop = self.spans[table]
        at, match = reading
        if at >= stop:  # every form of the table fails: most calls
            return None
        if at < start or match is None:
            at, match = self._first(text, max(at, start), stop)
            if match is None:
                return None
        return at, self.forms[at], match


# In the order walk_lines tries them. The rules ask each table they need; the order only decides
# which table's form `read` finds when forms of two tables read a line.
FORMS = _FormIndex(
    {
        "end": v.END_FORMS,  # where the body ends
        "skip": v.SKIP_FORMS,  # lines to drop
        "note": v.NOTE_FORMS,  # page-history notes
        "section": v.SECTION_FORMS,
        "marker": v.MARKER_FORMS,
        "heading": v.HEADING_FORMS,
        "reform": v.REFORM_FORMS,
        "unread_heading": (v.LOOKS_LIKE_HEADING,),
    }
)


# The tables that settle a line wherever it stands come first in FORMS: a reading before
# this position is an end, skip, note or section line (test_adversarial checks the order).
BODY_START = max(FORMS.spans[table][1] for table in ("end", "skip", "note", "section"))
MARKER_STOP = FORMS.spans["marker"][1]
HEADING_STOP = FORMS.spans["heading"][1]
UNREAD_HEADING_STOP = FORMS.spans["unread_heading"][1]

ADOBE_NOTE = next(form.pattern for form in v.SKIP_FORMS if form.name == "Adobe licence note")
ALT_MARKERS = next(form.pattern for form in v.SKIP_FORMS if form.name == "alt-text markers")
