"""The three levels of a policy's tree, top down, and what a reader calls each.

A module of its own, without pydantic, so that the command line's views can name the
levels without loading the models (models.py re-exports both)."""

from __future__ import annotations

from typing import Literal

Level = Literal["issue", "strategy", "initiative"]
LEVELS: tuple[Level, ...] = ("issue", "strategy", "initiative")
LEVEL_JA: dict[str, str] = {"issue": "経営課題", "strategy": "戦略", "initiative": "具体的取組"}
