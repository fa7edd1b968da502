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
    SMALL_RAW_MEMORY,
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


def _small_build_settings(data_dir: DataDir) -> tuple[tuple, tuple]:
    """(threads, memory limit) before and after loading a raw layer under ONE_THREAD_RAW_BYTES."""
    query = "select current_setting('threads'), current_setting('memory_limit')"
    with open_warehouse(data_dir, b"k" * 32) as con:
        before = con.execute(query).fetchone()
        load_raw(con, data_dir)
        after = con.execute(query).fetchone()
    assert find_raw_files(data_dir).table_bytes < ONE_THREAD_RAW_BYTES
    return before, after


def test_a_small_raw_layer_is_built_on_one_thread_within_a_smaller_limit(tmp_path, monkeypatch):
    """One person's export leaves a raw layer of about a megabyte: a second DuckDB thread
    would only add its buffers to the build's peak, and so did the blocks a 2 GB limit lets
    DuckDB keep (benchmarks/README.md, "Apple Health")."""
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    before, after = _small_build_settings(DataDir(tmp_path / "data"))
    assert before == (os.cpu_count() or 1, "1.8 GiB")
    assert SMALL_RAW_MEMORY == "256MB" and after == (1, "244.1 MiB")


def test_a_limit_set_in_the_environment_holds_for_a_small_raw_layer(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "3GB")
    before, after = _small_build_settings(DataDir(tmp_path / "data"))
    assert before[1] == after[1] == "2.7 GiB"
