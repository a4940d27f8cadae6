"""The dataset as a static web site, readable offline.

In: the published tables (`osaka_unei.load()`, optionally `themes` and `lineage`),
the registry (data/registry.csv) and the raw manifest, reduced to one coverage frame by
`coverage_frame`. Out: a folder of static pages (`render_site`): index.html, one page per
ward with data, one per fiscal year, and style.css. Charts are inline SVG rendered at build
time; nothing on the pages loads from the network.
"""

from osaka_unei.report.coverage import COVERAGE, coverage_frame
from osaka_unei.report.site import render_site

__all__ = ["COVERAGE", "coverage_frame", "render_site"]
