"""The line walk: one pass over a page's lines with a small state machine (which part of
the page we are in), collecting nodes, texts, notes and budgets for the tree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Literal, NoReturn

from osaka_unei.errors import PageError
from osaka_unei.parse import variants as v
from osaka_unei.parse.budgets import FoundBudget, has_budget_hint, split_budgets, unclosed
from osaka_unei.parse.extract import (
    Line,
)
from osaka_unei.parse.forms import (
    ADOBE_NOTE,
    BODY_START,
    FORMS,
    HEADING_STOP,
    MARKER_STOP,
    UNREAD_HEADING_STOP,
    Reading,
)
from osaka_unei.parse.headings import (
    Heading,
    Kind,
    clean_title,
    match_heading,
    match_marker,
    match_reform,
    sdg_goal_numbers,
    sdg_goals_of_line,
)

# ASCII digits only (NFKC folds full-width ones); a page number of at most 12 digits (the
# site's have 7; int() of a 5,000-digit one raised ValueError: a parser failure).
_DATE = re.compile(r"^([0-9]{4})年\s*([0-9]{1,2})月\s*([0-9]{1,2})日$")
_PAGE_NUMBER = re.compile(r"^ページ番号\s*:?\s*([0-9]{1,12})$")
DRAFT_MARK = re.compile(r"\((?:素案|案)\)")
# What every three-part code (1-1-1, a 具体的取組's) contains.
_THREE_PART_CODE = re.compile(rf"\d{v.SEP}\d{{1,2}}{v.SEP}\d")
_SENTENCE_END = "。"
_AT = itemgetter(0)  # of a Reading

# --- the pass over the lines ------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Node:
    kind: Kind
    code: str | None
    title: str | None
    issue: Node | None = None  # the 経営課題 the page was in when this node appeared
    strategy: Node | None = None  # nearest preceding 戦略 of that issue (for unnumbered)
    lines: list[str] = field(default_factory=list)
    budgets: list[FoundBudget] = field(default_factory=list)
    sdgs: list[tuple[int, str]] = field(default_factory=list)  # (goal, line as printed)


@dataclass(slots=True)
class _Reform:
    plan: str | None
    code: str | None
    title: str | None
    contents: list[str] = field(default_factory=list)


Section = Literal["pre", "goal", "mission", "basic_policy", "issues", "reforms"]


# What one page may hold, far above any real page (the fixtures: at most 90 lines, 26
# nodes and 10 amounts; a full real page a few hundred lines): past either bound the page
# is refused in one line (an error row of the build), so that a 10 MB page of 10^6
# amounts costs seconds and megabytes, not 35 s and 2 GB.
MAX_AMOUNTS = 5_000
MAX_NODES = 5_000


def refuse(what: str, bound: int) -> NoReturn:
    raise PageError(f"page refused: more than {bound:,} {what} (no ward page is near that)")


@dataclass(slots=True)
class PageState:
    title: str
    fiscal_year: int
    published: dt.date | None = None
    page_number: str | None = None
    texts: dict[str, list[str]] = field(
        default_factory=lambda: {"goal": [], "mission": [], "basic_policy": []}
    )
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    current: Node | None = None
    current_issue: Node | None = None
    last_strategy: Node | None = None
    strategy_list: bool = False  # after 主な戦略(課題解決の方策): lines are strategies
    expect_sdgs: bool = False
    plan: str | None = None
    reforms: list[_Reform] = field(default_factory=list)
    reform_style: Literal["explicit", "plain"] | None = None
    # Lines the walk did not read as issues text nor check for a heading, in page order:
    # warn_unread_initiatives looks at these (and the lines up to the title) only.
    unchecked: list[Line] = field(default_factory=list)

    n_amounts: int = 0

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _is_repeated_title(text: str, title_key: str) -> bool:
    key = text.replace(" ", "")
    return key.startswith(title_key) and len(key) - len(title_key) <= 30


_ADOBE_AT = FORMS.forms.index(next(form for form in v.SKIP_FORMS if form.pattern is ADOBE_NOTE))


def _is_adobe_note(text: str, reading: Reading) -> bool:
    """ADOBE_NOTE.match(text), from the line's reading: every form before `at` fails on it."""
    at = reading[0]
    return at == _ADOBE_AT or (at < _ADOBE_AT and ADOBE_NOTE.match(text) is not None)


def _attachment_names(lines: list[Line], readings: list[Reading]) -> set[int]:
    """Positions of the lines to drop: in a capture an attachment's link text stands just
    before the Adobe licence note. Only an end form comes before the note in FORMS (the
    note is the first skip form), so on most pages the first test settles it."""
    if min(map(_AT, readings), default=_ADOBE_AT + 1) > _ADOBE_AT:
        return set()
    kept: list[int] = []
    for index, (line, reading) in enumerate(zip(lines, readings, strict=True)):
        if (
            _is_adobe_note(line.text, reading)
            and kept
            and _SENTENCE_END not in lines[kept[-1]].text
        ):
            kept.pop()
        kept.append(index)
    return set(range(len(lines))) - set(kept)


def _start_node(state: PageState, heading: Heading, budgets: Sequence[FoundBudget]) -> None:
    if len(state.nodes) >= MAX_NODES:
        refuse("経営課題/戦略/具体的取組", MAX_NODES)
    node = Node(heading.kind, heading.code, heading.title, budgets=list(budgets))
    if heading.rest:
        node.lines.append(heading.rest)
    if heading.kind == "issue":
        state.current_issue = node
        state.last_strategy = None
        state.strategy_list = False
    else:
        node.issue = state.current_issue
        if heading.kind == "strategy":
            state.last_strategy = node
            if heading.code is not None:
                state.strategy_list = False
        else:
            node.strategy = state.last_strategy
            state.strategy_list = False
    state.nodes.append(node)
    state.current = node


def _attach_budgets(state: PageState, budgets: Sequence[FoundBudget], text: str) -> None:
    if not budgets:
        return
    if state.current is None:
        state.warn(f"budget outside any 経営課題/戦略/具体的取組, dropped: {text[:60]}")
        return
    state.current.budgets.extend(budgets)


def _issue_line(state: PageState, line: Line, reading: Reading) -> None:
    text = line.text
    budgets: Sequence[FoundBudget] = ()
    if has_budget_hint(text):
        text, budgets, warnings = split_budgets(text, state.fiscal_year)
        state.warnings.extend(warnings)
        state.n_amounts += len(budgets)
        if state.n_amounts > MAX_AMOUNTS:
            refuse("amounts", MAX_AMOUNTS)
        if text is not line.text:
            reading = FORMS.read(text)
    if not text:  # a line of budgets only (or an empty line): nothing to add as text
        _attach_budgets(state, budgets, line.text)
        return
    if state.expect_sdgs:
        # After 主なSDGsゴール alone: goal lines (目標1, 1 貧困をなくそう, 3、11) until the first
        # line that is not one.
        goals = sdg_goals_of_line(text)
        if goals:
            _add_sdgs(state, goals, text)
            return
        state.expect_sdgs = False
    # A table's forms are asked only where the reading leaves one of them to read the line
    # (FORMS.match would say None at once: the check saves the calls on most lines).
    at = reading[0]
    if at < MARKER_STOP and (marker := match_marker(text, reading)) is not None:
        name, match = marker
        if name == "sdgs":
            goals = sdg_goal_numbers(match.group("goals") or "")
            _add_sdgs(state, goals, text)
            state.expect_sdgs = not goals
        elif name == "strategy_list":
            state.strategy_list = True
        elif name == "initiative_list":
            state.strategy_list = False
        _attach_budgets(state, budgets, line.text)
        return
    if at < HEADING_STOP and (heading := match_heading(text, reading)) is not None:
        _start_node(state, heading, budgets)
        return
    if at < UNREAD_HEADING_STOP and FORMS.match("unread_heading", text, reading) is not None:
        state.warn(f"heading form not recognised, kept as text: {text[:60]}")
    if state.strategy_list and state.current_issue is not None:
        # 令和5年度+: 主な戦略(課題解決の方策) is followed by unnumbered strategy bullets.
        _start_node(state, Heading("strategy", None, text, None, "strategy bullet"), budgets)
        return
    if state.current is None:
        state.warn(f"text before the first 経営課題, not kept: {text[:60]}")
        return
    state.current.lines.append(text)
    if budgets:
        state.current.budgets.extend(budgets)


def _add_sdgs(state: PageState, goals: list[int], text: str) -> None:
    """SDGs go to the node they are printed on: the issue, or a numbered strategy or
    initiative; after 令和5年度's unnumbered strategy bullets they close the issue's block."""
    node = state.current
    if node is None or state.strategy_list or node.kind == "issue":
        node = state.current_issue
    if node is None:
        state.warn(f"SDGs before the first 経営課題, not kept: {text[:60]}")
        return
    node.sdgs.extend((goal, text) for goal in goals)


def _reform_line(state: PageState, line: Line, reading: Reading) -> None:
    text = line.text
    match = match_reform(text, reading)
    if match is not None:
        state.reform_style = "explicit"
        code = match.group("code")
        state.reforms.append(
            _Reform(state.plan, str(int(code)) if code else None, clean_title(match.group("title")))
        )
        return
    marker = match_marker(text, reading)
    if marker is not None and marker[0] == "reform_contents":
        return
    heading_like = not line.bullet and len(text) <= 40 and not text.endswith(_SENTENCE_END)
    if state.reform_style != "explicit" and heading_like:
        # 港区 R4: plain item headings, each followed by its paragraph.
        state.reform_style = "plain"
        state.reforms.append(_Reform(state.plan, None, clean_title(text)))
        return
    if not state.reforms:
        state.reforms.append(_Reform(state.plan, None, None))
    state.reforms[-1].contents.append(text)


def _pre_line(state: PageState, text: str) -> None:
    if state.published is None and (date := _DATE.match(text)):
        try:
            state.published = dt.date(*(int(part) for part in date.groups()))
        except ValueError:
            state.warn(f"not a valid date: {text}")
        return
    if state.page_number is None and (number := _PAGE_NUMBER.match(text)):
        state.page_number = str(int(number.group(1)))
        return
    state.notes.append(text)


def walk_lines(state: PageState, lines: list[Line]) -> None:
    title_key = re.sub(DRAFT_MARK, "", state.title).replace(" ", "")
    title_start = title_key[:1]
    readings = FORMS.read_all([line.text for line in lines])
    dropped = _attachment_names(lines, readings)
    section: Section = "pre"
    last = None  # the last line kept
    for index, (line, reading) in enumerate(zip(lines, readings, strict=True)):
        if dropped and index in dropped:
            state.unchecked.append(line)
            continue
        last = line
        text = line.text
        at = reading[0]
        # Lines are trimmed: the first character settles nearly every repeated title.
        repeated_title = text[:1] == title_start and _is_repeated_title(text, title_key)
        if at < BODY_START or repeated_title:  # no policy text (see BODY_START)
            table = FORMS.table_at[at]
            if table == "end":
                state.unchecked.extend(lines[index:])
                return
            state.unchecked.append(line)
            if table == "skip" or repeated_title:
                continue
            if table == "note":
                state.notes.append(text)
                continue
            name = FORMS.forms[at].name  # a section form
            if name == "reforms":
                state.plan = reading[1].group("plan")  # type: ignore[union-attr]  # a form matched at `at`: reading holds its match
            if name != "block_heading":
                section = name  # type: ignore[assignment]  # a section form: a SectionName
            continue
        if (
            section != "issues"
            and (at < HEADING_STOP or has_budget_hint(text))  # else no heading: no call
            and _heading_without_budgets(text, state.fiscal_year, reading)
        ):
            # A heading outside the issues part (a page without the 重点的に… line).
            section = "issues"
        if section == "issues":
            _issue_line(state, line, reading)
        elif section == "pre":
            _pre_line(state, text)
        elif section == "reforms":
            _reform_line(state, line, reading)
        else:
            state.texts[section].append(text)
    if last is not None and unclosed(last.text):
        # A capture cut mid-heading ('【経営'): keep what it holds, but say so.
        state.warn(f"the page seems cut off after: {last.text[-30:]}")


def _heading_without_budgets(text: str, page_year: int, reading: Reading) -> Heading | None:
    """The heading a line outside the issues part reads as, once its budget text is out
    (`reading`: FORMS.read(text); both steps return at once on plain text)."""
    without = split_budgets(text, page_year)[0]
    return match_heading(without, reading if without is text else None)


def warn_unread_initiatives(state: PageState, lines: list[Line]) -> None:
    """No numbered 具体的取組 leaves a page silently: a heading line the walk did not read
    as issues text (`lines`: up to the title, skipped, dropped, after the end of the body)
    is named in a warning unless its code is in the tree anyway. The walk checked the
    other lines for a heading already (_heading_without_budgets)."""
    read = {node.code for node in state.nodes if node.kind == "initiative"}
    for line in lines:
        without = split_budgets(line.text, state.fiscal_year)[0]
        if not _THREE_PART_CODE.search(without):
            continue
        heading = match_heading(without)
        if heading is None or heading.kind != "initiative" or heading.code is None:
            continue
        if heading.code not in read:
            read.add(heading.code)
            state.warn(
                f"具体的取組 {heading.code} outside the policy text, not read: {line.text[:60]}"
            )
