"""The warehouse's DuckDB works within STEADYBACK_WAREHOUSE_MEMORY and spills inside the private data dir."""

import os
import stat
from pathlib import Path

import pytest

from pipelines.lib.layout import DataDir
from pipelines.lib.warehouse import (
    DEFAULT_MEMORY,
    MEMORY_ENV,
    ONE_THREAD_RAW_BYTES,
    find_raw_files,
    load_raw,
    open_warehouse,
)


def _settings(root: Path) -> tuple[str, str]:
    with open_warehouse(DataDir(root), b"k" * 32) as con:
        return con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()


def test_the_default_limit_is_2_gb_and_spills_go_beside_the_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    limit, spill = _settings(tmp_path / "data")
    assert DEFAULT_MEMORY == "2GB" and limit == "1.8 GiB"  # DuckDB reports GB as GiB
    assert Path(spill) == tmp_path / "data" / "warehouse.duckdb.tmp"
    # the spill folder is inside the data dir, which only its owner may enter
    mode = stat.S_IMODE((tmp_path / "data").stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_the_limit_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "300MB")
    assert _settings(tmp_path / "data")[0] == "286.1 MiB"


def test_a_size_duckdb_cannot_read_is_named_with_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match=rf"{MEMORY_ENV}='lots' is not a size"):
        _settings(tmp_path / "data")


def test_a_small_raw_layer_is_built_on_one_thread(tmp_path):
    """One person's export leaves a raw layer of about a megabyte: a second DuckDB thread
    would only add its buffers to the build's peak (benchmarks/README.md, "Apple Health")."""
    data_dir = DataDir(tmp_path / "data")
    with open_warehouse(data_dir, b"k" * 32) as con:
        before = con.execute("select current_setting('threads')").fetchone()[0]
        load_raw(con, data_dir)
        after = con.execute("select current_setting('threads')").fetchone()[0]
    assert find_raw_files(data_dir).table_bytes < ONE_THREAD_RAW_BYTES
    assert after == 1 and before == (os.cpu_count() or 1)
