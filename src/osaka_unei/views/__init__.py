"""The command line's views: every table, summary and record list `osaka-unei` prints.

In: the published dataset's SQLite database (its `nodes` table: the amount shown,
`thousand_yen`, and whether the page prints it, `printed`; its `changes` and `versions`),
and for `parse --format summary` one parsed `WardPolicy`. Out: rich tables and plain text
for a terminal, JSON and CSV records for a program.

A stage after `db` and `analysis`: it may import any earlier stage, none imports it. Its
modules load neither pandas nor pyarrow (nor pydantic, except `summary`), so that
`search` and `history` answer at once: `text` (the shared vocabulary and formats),
`search`, `history`, `changes`, `summary`.
"""
