"""Analyses over the stored pages and the built tables (versions of a page, what changed)."""
