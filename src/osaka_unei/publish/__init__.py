"""The last stage, publish: the build run, raw store → the published dataset in
data/processed/, and the report run → data/report/.

In: the raw store (manifest and page files), the parse cache and the curated data files.
Out: every table (core and derived) as Parquet and CSV, the SQLite database,
datapackage.json, datasette.json and build_stats.json, published only after every check
passed, as one unit at stable paths: data/processed/<table>.csv etc. (the report likewise).
``run`` drives the stages; ``derive`` makes the analysis tables; ``catalog`` lists every
published table; ``cache`` keeps parses by content hash and parser source; ``outputs`` turns
tables into files; ``report`` renders the site; ``atomic`` publishes a folder whole
(staging, fsync, journal, one rename a changed file, the manifest last) under a lock.
"""
