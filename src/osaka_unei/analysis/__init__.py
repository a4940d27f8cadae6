"""Derived tables: what flows in (the core tables) and out."""
