"""The 経営課題 → 戦略 → 具体的取組 tree, assembled from the numbers, not from the page order
(港区 R4 lists two strategies before their initiatives).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from osaka_unei.parse.budgets import budget_fields, main_budget
from osaka_unei.parse.rules import Node, PageState

# --- assembling the tree from the numbers ----------------------------------------------


@lru_cache(maxsize=1024)  # a pure function of a short code; pages share their codes
def _code_key(code: str) -> tuple[int, ...]:
    return tuple(int(part) for part in code.split("-"))


# The fields of one node of the tree (Issue, Strategy or Initiative), as validated.
_Fields = dict[str, Any]


def _in_code_order(items: list[_Fields]) -> None:
    """Code order where every item has a code, else page order: the order items were
    added in (the sort is stable, so equal codes stay in page order too); then numbered."""
    if all(item["code"] is not None for item in items):
        items.sort(key=lambda item: _code_key(item["code"]))
    for position, item in enumerate(items, start=1):
        item["position"] = position


def _node_fields(node: Node | None, code: str | None, page_year: int, draft: bool) -> _Fields:
    if node is None:  # a placeholder
        return {
            "code": code,
            "title": None,
            "description": None,
            "budget_thousand_yen": None,
            "budgets": [],
            "sdg_goals": [],
        }
    main = main_budget(node.budgets, page_year, draft) if node.budgets else None
    return {
        "code": code,
        "title": node.title,
        # No line is empty: _issue_line keeps none, and a heading's rest is None if empty.
        "description": "\n".join(node.lines) if node.lines else None,
        "budget_thousand_yen": main.amount_thousand_yen if main is not None else None,
        "budgets": budget_fields(node.budgets, main) if node.budgets else [],
        "sdg_goals": _sdg_goal_fields(node.sdgs),
    }


def _sdg_goal_fields(mentions: list[tuple[int, str]]) -> list[_Fields]:
    """Each goal once, with the first line that names it, in the order printed."""
    first: dict[int, str] = {}
    for goal, raw in mentions:
        first.setdefault(goal, raw)
    return [{"goal": goal, "raw": raw} for goal, raw in first.items()]


def assemble_tree(state: PageState, page_year: int, draft: bool) -> list[_Fields]:
    """The nodes as a tree (Issue → Strategy → Initiative) placed by their numbers, as the
    fields of the models: the policy is validated once, as a whole, which is several
    times faster than a model per node. A node whose parent is missing goes under a
    placeholder, with a warning."""
    issues: list[_Fields] = []
    issue_by_code: dict[str, _Fields] = {}  # the first issue of each code
    strategy_by_code: dict[tuple[int, str], _Fields] = {}  # (id(issue), code) → first one
    leaf_codes: set[tuple[int, str]] = set()  # (id(strategy), code)
    fields_of: dict[int, _Fields] = {}  # id(node) → its fields

    def add(code: str | None, node: Node | None, parent: list[_Fields]) -> _Fields:
        fields = _node_fields(node, code, page_year, draft)
        parent.append(fields)
        if node is not None:
            fields_of[id(node)] = fields
        return fields

    def add_issue(code: str | None, node: Node | None) -> _Fields:
        issue = add(code, node, issues)
        issue["sdgs"] = sorted({goal for goal, _ in node.sdgs}) if node is not None else []
        issue["strategies"] = []
        if code is not None:
            issue_by_code.setdefault(code, issue)
        return issue

    def add_strategy(issue: _Fields, code: str | None, node: Node | None) -> _Fields:
        strategy = add(code, node, issue["strategies"])
        strategy["initiatives"] = []
        if code is not None:
            strategy_by_code.setdefault((id(issue), code), strategy)
        return strategy

    def issue_for(code: str | None, context: Node | None, what: str) -> _Fields:
        if code is None and context is not None:
            return fields_of[id(context)]
        found = issue_by_code.get(code) if code is not None else None
        if found is None:
            state.warn(f"{what}: no 経営課題 {code or ''} on the page; kept under a placeholder")
            found = add_issue(code, None)
        return found

    for node in state.nodes:
        code = node.code
        if node.kind == "issue":
            if code is not None and code in issue_by_code:
                state.warn(f"経営課題 {code} appears twice; both kept")
            add_issue(code, node)
        elif node.kind == "strategy":
            issue_code = code.split("-")[0] if code else None
            if issue_code is not None and node.issue is not None and node.issue.code == issue_code:
                issue = fields_of[id(node.issue)]  # the one just above, even if codes repeat
            else:
                issue = issue_for(issue_code, node.issue, f"戦略 {code or node.title}")
            if code is not None and (id(issue), code) in strategy_by_code:
                state.warn(f"戦略 {code} appears twice; both kept")
            add_strategy(issue, code, node)
        else:
            what = f"具体的取組 {code or node.title}"
            if code is not None:
                parts = code.split("-")
                issue_code, strategy_code = parts[0], "-".join(parts[:2])
                if node.issue is not None and node.issue.code == issue_code:
                    issue = fields_of[id(node.issue)]
                else:
                    issue = issue_for(issue_code, None, what)
                strategy = strategy_by_code.get((id(issue), strategy_code))
                if strategy is None:
                    state.warn(
                        f"{what}: no 戦略 {strategy_code} on the page; kept under a placeholder"
                    )
                    strategy = add_strategy(issue, strategy_code, None)
                if (id(strategy), code) in leaf_codes:
                    state.warn(f"具体的取組 {code} appears twice; both kept")
                leaf_codes.add((id(strategy), code))
            elif node.strategy is not None:
                strategy = fields_of[id(node.strategy)]
            else:
                issue = issue_for(None, node.issue, what)
                state.warn(f"{what}: no 戦略 before it; kept under a placeholder")
                strategy = add_strategy(issue, None, None)
            add(code, node, strategy["initiatives"])

    _in_code_order(issues)
    for issue in issues:
        _in_code_order(issue["strategies"])
        for strategy in issue["strategies"]:
            _in_code_order(strategy["initiatives"])
    return issues
