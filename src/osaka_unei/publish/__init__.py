"""Stage 4, publish: the build run, raw store → the published dataset in data/processed/.

In: the raw store (manifest and page files) and the parse cache.
Out: every table as Parquet and CSV, datapackage.json and build_stats.json, published only
after every check passed, as one unit: data/processed is a symlink to data/builds/<id>/.
``run`` drives the stages; ``cache`` keeps parses by content hash and parser source;
``outputs`` turns tables into files; ``atomic`` publishes a folder whole (write, fsync,
rename, swap the symlink) under a lock.
"""
