"""Analyses built on the published tables (derived tables, summaries)."""
