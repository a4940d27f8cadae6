"""How an amount in 千円 is written for a person, the same on every surface (the CLI's views,
the report, Datasette): `32,550`, with the unit `32,550 千円`; a sum of the items below (the
node model's `printed` false) marked `(計)`; a missing amount `—`, never 0, nan or None."""

from __future__ import annotations

UNIT = "千円"
NO_AMOUNT = "—"
SUMMED = "(計)"
SUMMED_TITLE = "下位項目の合計"  # the tooltip of a summed amount in HTML


def amount_text(
    thousand_yen: int | None, printed: bool | None = True, *, unit: bool = False
) -> str:
    """`32,550`, `32,550 千円` (unit), `32,550 (計)` / `32,550 千円 (計)` where summed, `—`."""
    if thousand_yen is None:
        return NO_AMOUNT
    text = f"{thousand_yen:,}" + (f" {UNIT}" if unit else "")
    return text if printed or printed is None else f"{text} {SUMMED}"
