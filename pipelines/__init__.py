"""steadyback's pipeline package.

Before anything here loads Polars: Polars allocates through its own jemalloc, which by default
keeps freed pages for ten seconds and hands them back only when Polars allocates again. A run
parses with Polars and then spends its largest step in DuckDB, so the parse's pages stayed in
the process through the warehouse build (benchmarks/README.md, "Apple Health"). A short decay
returns them before that step. An operator's own `_RJEM_MALLOC_CONF` wins.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:0")
