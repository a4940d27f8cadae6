"""Every table a build publishes, in the order datapackage.json and the database list them:
the core tables of the dataset stage, then the derived tables of the analysis stage."""

from __future__ import annotations

from osaka_unei.analysis.changes import CHANGES
from osaka_unei.analysis.lineage import LINEAGE
from osaka_unei.analysis.themes import THEME_CODEBOOK, THEMES
from osaka_unei.analysis.versions import VERSIONS
from osaka_unei.dataset.nodes import NODES
from osaka_unei.dataset.tables import TABLES as CORE_TABLES
from osaka_unei.dataset.tables import TableSpec

DERIVED_TABLES: tuple[TableSpec, ...] = (LINEAGE, THEMES, THEME_CODEBOOK, VERSIONS, CHANGES, NODES)
PUBLISHED_TABLES: tuple[TableSpec, ...] = (*CORE_TABLES, *DERIVED_TABLES)
