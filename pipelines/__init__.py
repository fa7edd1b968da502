"""steadyback's pipeline package.

Before anything here loads Polars or DuckDB: each allocates through its own jemalloc, which
by default keeps freed pages for seconds. Polars' kept the parse's pages in the process
through the warehouse build, and DuckDB's kept every finished statement's working memory
(loading the raw tables, building `staging.wearable__records`) until the warehouse was
closed, so each statement's stacked on the last. A decay of a tenth of a second returns them
in time and cost no measured CPU time; none at all (a system call per free) did
(benchmarks/README.md, "Apple Health"). An operator's own `_RJEM_MALLOC_CONF` or
`DUCKDB_JE_MALLOC_CONF` wins.
"""

import os

RUN_MALLOC_CONF = "dirty_decay_ms:100,muzzy_decay_ms:0"
"""Both allocators' setting in a run's process (the local cluster's parse workers keep
Polars' pages longer: parse_cluster.PARSE_MALLOC_CONF)."""
OPERATOR_SETTING = "STEADYBACK_OPERATOR_RJEM_MALLOC_CONF"
"""The operator's own `_RJEM_MALLOC_CONF` ('' for none) as the first steadyback process of a
process tree found it. A process that one starts (a Dagster run launched by the webserver or
the daemon, a Dask worker) inherits our setting below in `_RJEM_MALLOC_CONF`, which is not
the operator's."""
if OPERATOR_SETTING not in os.environ:
    os.environ[OPERATOR_SETTING] = os.environ.get("_RJEM_MALLOC_CONF", "")
OPERATOR_POLARS_MALLOC_CONF = os.environ[OPERATOR_SETTING] or None
"""The operator's own setting for Polars' allocator, if any (Polars, once loaded, puts its
defaults in front of whatever the variable holds)."""

os.environ.setdefault("_RJEM_MALLOC_CONF", RUN_MALLOC_CONF)
os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", RUN_MALLOC_CONF)
