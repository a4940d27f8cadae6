"""Stage 4, analysis: derived tables that follow and compare the wards' policies.

In: the core tables (dataset/), every stored version of each page with its parse, and the
curated data files (theme codebook, lineage and theme overrides).
Out: DataFrames in the column specs of dataset/tables.py: ``lineage`` (an item across
years), ``themes`` (each node tagged from the codebook), ``versions`` and ``changes``
(a page's versions within a year and what changed between them).
"""
