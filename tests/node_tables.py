"""Core tables written by hand for lineage tests: a node is (policy_id, path, title,
description, amount), its path `pI`, `pI.S` or `pI.S.N` (its positions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

NodeRow = tuple[str, str, str, str | None, int | None]


def core_tables(nodes: Iterable[NodeRow], codes: bool = False) -> dict[str, pd.DataFrame]:
    """policies, issues, strategies and initiatives; codes are the positions if asked."""
    levels: dict[str, list[dict[str, Any]]] = {"issues": [], "strategies": [], "initiatives": []}
    policies: dict[str, dict[str, Any]] = {}
    for pid, path, title, description, amount in nodes:
        slug, year = pid.rsplit("-", 1)
        policies.setdefault(pid, {"policy_id": pid, "ward_slug": slug, "fiscal_year": int(year)})
        parts = [int(p) for p in path[1:].split(".")]
        code = "-".join(str(p) for p in parts) if codes else None
        base = {"policy_id": pid, "title": title, "description": description}
        base["budget_thousand_yen"] = amount
        if len(parts) == 1:
            levels["issues"].append(base | {"issue_position": parts[0], "issue_code": code})
        elif len(parts) == 2:
            levels["strategies"].append(
                base | {"issue_position": parts[0], "position": parts[1], "strategy_code": code}
            )
        else:
            levels["initiatives"].append(
                base
                | {
                    "issue_position": parts[0],
                    "strategy_position": parts[1],
                    "position": parts[2],
                    "initiative_code": code,
                }
            )
    return {"policies": pd.DataFrame(list(policies.values()))} | {
        name: pd.DataFrame(frame) for name, frame in levels.items()
    }
