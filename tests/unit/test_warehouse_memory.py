"""The warehouse's DuckDB works within STEADYBACK_WAREHOUSE_MEMORY and spills inside the private data dir."""

import stat
from pathlib import Path

import pytest

from pipelines.lib.layout import DataDir
from pipelines.lib.warehouse import DEFAULT_MEMORY, MEMORY_ENV, open_warehouse


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

