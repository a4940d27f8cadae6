"""The checks looked at a column at a time (dataset.checks): each still fails, with the
message the row-by-row checks gave, and passes what they passed."""

from __future__ import annotations

import pandas as pd
import pytest

from osaka_unei.dataset import checks
from osaka_unei.dataset.checks import CheckError, check_derived, check_tables
from osaka_unei.dataset.nodes import node_pairs, nodes_frame
from osaka_unei.models import Issue, Strategy
from tests.test_export import initiative, policy, simple_issues, tables_of


def tables() -> dict[str, pd.DataFrame]:
    issues = [
        *simple_issues(3),
        Issue(
            code=None,
            position=2,
            title="番号のない課題",
            strategies=[
                Strategy(
                    code=None,
                    position=1,
                    title="番号のない戦略",
                    initiatives=[initiative("2-1-1", 1, 50)],
                )
            ],
        ),
    ]
    return tables_of(policy(issues=issues), policy("kita", 2019, simple_issues(1)))


def edited(name: str, row: int, column: str, value: object) -> dict[str, pd.DataFrame]:
    changed = tables()
    frame = changed[name].copy()
    frame.loc[row, column] = value
    changed[name] = frame
    return changed


def test_good_tables_pass_with_null_codes() -> None:
    good = tables()
    assert good["issues"]["issue_code"].isna().any()  # null equals null under its parent
    check_tables(good, [])


@pytest.mark.parametrize(
    ("name", "row", "column", "value", "message"),
    [
        (
            "initiatives",
            1,
            "strategy_position",
            7,
            "parents: initiatives row ('minato-2022', 1, 7) has no parent in strategies",
        ),
        (
            "initiatives",
            2,
            "strategy_code",
            "1-2",
            "codes: initiatives row ('minato-2022', 1, 1) has ('1', '1-2'), its parent ('1', '1-1')",
        ),
        (
            "strategies",
            2,
            "issue_code",
            "3",
            "codes: strategies row ('minato-2022', 2) has ('3',), its parent (None,)",
        ),
        ("issues", 0, "policy_id", None, "required: issues.policy_id has nulls"),
        ("budgets", 0, "kind", "guess", "values: budgets.kind has ['guess']"),
        (
            "initiatives",
            0,
            "budget_yen",
            -1,
            "non-negative: initiatives.budget_yen has a negative amount",
        ),
    ],
)
def test_each_check_fails_with_its_message(
    name: str, row: int, column: str, value: object, message: str
) -> None:
    with pytest.raises(CheckError) as caught:
        check_tables(edited(name, row, column, value), [])
    assert str(caught.value) == message


def test_budget_codes_repeat_their_node() -> None:
    changed = tables()
    budgets = changed["budgets"].copy()
    budgets.loc[0, "code"] = "1-1-9"
    changed["budgets"] = budgets
    with pytest.raises(CheckError, match=r"^codes: budgets \(initiative\) row"):
        check_tables(changed, [])


def test_rows_are_python_values_with_none_for_nulls() -> None:
    frame = pd.DataFrame(
        {
            "a": pd.Series(["x", None], dtype="str"),
            "b": pd.array([1, None], dtype="Int64"),
            "c": [1.5, float("nan")],
        }
    )
    assert checks._rows(frame, ["a", "b", "c"]) == [("x", 1, 1.5), (None, None, None)]
    assert type(checks._rows(frame, ["b"])[0][0]) is int


def derived(good: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    pairs = node_pairs(good)
    return good | {
        "lineage": pd.DataFrame(
            {"policy_id": [p for p, _ in pairs], "node_key": [k for _, k in pairs]}
        ),
        "themes": pd.DataFrame({"theme": ["safety"]}),
        "theme_codebook": pd.DataFrame({"theme": ["safety", "welfare"]}),
        "sdgs": pd.DataFrame({"goal": pd.array([1, 17], dtype="Int64")}),
    }


def test_node_pairs_are_the_keys_of_nodes_frame() -> None:
    good = tables()
    nodes = nodes_frame(good)
    expected = set(zip(nodes["policy_id"], nodes["node_key"], strict=True))
    assert set(node_pairs(good)) == expected and len(node_pairs(good)) == len(nodes)


def test_check_derived_lineage_themes_and_goals() -> None:
    good = derived(tables())
    check_derived(good, [])
    missing = good | {"lineage": good["lineage"].iloc[1:]}
    with pytest.raises(CheckError) as caught:
        check_derived(missing, [])
    n = len(good["lineage"])
    assert str(caught.value) == f"lineage: {n - 1} rows for {n} nodes (1 nodes without a row)"
    twice = good | {"lineage": pd.concat([good["lineage"], good["lineage"].iloc[:1]])}
    with pytest.raises(CheckError, match=r"^lineage: "):
        check_derived(twice, [])
    with pytest.raises(CheckError, match=r"^themes: not in the codebook: \['x'\]$"):
        check_derived(good | {"themes": pd.DataFrame({"theme": ["x", "safety"]})}, [])
    goals = pd.DataFrame({"goal": pd.array([0, 18, 3], dtype="Int64")})
    with pytest.raises(CheckError, match=r"^sdgs: goals outside 1–17: \[0, 18\]$"):
        check_derived(good | {"sdgs": goals}, [])
