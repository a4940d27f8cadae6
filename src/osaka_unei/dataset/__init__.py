"""Stage 3, dataset: parsed policies → tidy, checked tables, and what describes them.

In: WardPolicy objects (one per ward and fiscal year) with where their bytes came from.
Out: pandas DataFrames, one per table, in the dtypes the column specs give; their Parquet
and CSV bytes; datapackage.json. Nothing here reads the raw store or writes a file.

Modules: ``tables`` (column specs: the schema, in Japanese and English), ``nodes`` (every
issue, strategy and initiative as one frame), ``flatten``
(policy → rows → frames), ``checks`` (keys, codes, budgets, no shrinking), ``files``
(Parquet/CSV bytes), ``datapackage`` (the Frictionless descriptor), ``load`` (the published
tables back as DataFrames, for notebooks).
"""
