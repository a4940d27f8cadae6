"""The dataset as a static web site, readable offline.

In: the published tables (`osaka_unei.load()`; `nodes`, `themes`, `lineage`, `sdgs`,
`changes` optional), the registry (data/registry.csv) and the raw manifest, reduced to one
coverage frame by `coverage_frame`, and the list of published files with the tables' column
specs. Out: a folder of static pages (`render_site`): index.html, a page per ward, per
fiscal year and per item followed across years (lineage), the downloads and the data
dictionary, style.css and an offline search (search.js, search-index.js). Charts are inline
SVG written from templates; nothing on the pages loads from the network. Each page carries
a digest of its inputs, so a new report redraws only the pages whose inputs changed.
"""

from osaka_unei.report.coverage import COVERAGE, coverage_frame
from osaka_unei.report.site import Download, read_digests, render_site

__all__ = ["COVERAGE", "Download", "coverage_frame", "read_digests", "render_site"]
