"""Which key a run may use against the published snapshot: pinned once real data is published."""

import duckdb
import pytest

from pipelines.lib.key_policy import PublishedKey, published_key, run_key
from pipelines.lib.layout import DataDir
from pipelines.lib.pseudonym import DEMO_KEY, KEY_ENV, KeyRefused, key_fingerprint

KEY = "program-key-0123456789"
OTHER = "another-program-key-0123"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return DataDir.at(tmp_path)


def write_snapshot(data_dir: DataDir, **columns) -> None:
    """A published snapshot whose meta.snapshot has these columns (none: an older steadyback's)."""
    data_dir.published_dir.mkdir(parents=True, exist_ok=True)
    data_dir.snapshot.unlink(missing_ok=True)
    with duckdb.connect(str(data_dir.snapshot)) as con:
        con.execute("create schema meta")
        select = ", ".join(f"? as {name}" for name in ["run_id", *columns])
        con.execute(
            f"create table meta.snapshot as select {select}",
            ["r1", *columns.values()],
        )


def never():
    raise AssertionError("landing/ was hashed although the answer did not matter")


def real() -> bool:
    return False


def test_with_nothing_published_any_usable_key_runs(data_dir):
    assert run_key(data_dir, never, rotate=False) == KEY.encode()


def test_a_real_snapshot_pins_its_key_until_rotated(data_dir, monkeypatch):
    write_snapshot(data_dir, generated_cohort=False, key_fingerprint=key_fingerprint(KEY.encode()))
    assert published_key(data_dir.snapshot).key_fingerprint == key_fingerprint(KEY.encode())
    assert run_key(data_dir, never, rotate=False) == KEY.encode()

    monkeypatch.setenv(KEY_ENV, OTHER)
    with pytest.raises(KeyRefused, match="steadyback run --rotate-key") as refused:
        run_key(data_dir, real, rotate=False)
    assert key_fingerprint(OTHER.encode()) in str(refused.value)
    assert OTHER not in str(refused.value) and KEY not in str(refused.value)
    assert run_key(data_dir, real, rotate=True) == OTHER.encode()
    # the generated cohort replacing a real snapshot gives no real person a new pid
    assert run_key(data_dir, lambda: True, rotate=False) == OTHER.encode()


def test_a_newly_published_snapshot_is_read_again(data_dir):
    """The answer is kept per file (every step of a run asks), never past a new publish."""
    write_snapshot(data_dir, generated_cohort=False, key_fingerprint=key_fingerprint(KEY.encode()))
    assert published_key(data_dir.snapshot).key_fingerprint == key_fingerprint(KEY.encode())
    write_snapshot(data_dir, generated_cohort=True, key_fingerprint="another")
    assert published_key(data_dir.snapshot) == PublishedKey(True, "another")
    data_dir.snapshot.write_bytes(b"not a database")
    assert published_key(data_dir.snapshot) == PublishedKey(False, None)
    data_dir.snapshot.unlink()
    assert published_key(data_dir.snapshot) is None
    data_dir.published_dir.rmdir()
    data_dir.published_dir.write_text("a file where the folder should be")
    assert published_key(data_dir.snapshot) is None


def test_a_demo_snapshot_pins_nothing(data_dir):
    write_snapshot(
        data_dir, generated_cohort=True, key_fingerprint=key_fingerprint(DEMO_KEY.encode())
    )
    assert run_key(data_dir, never, rotate=False) == KEY.encode()


@pytest.mark.parametrize("columns", [{}, {"generated_cohort": None, "key_fingerprint": None}])
def test_a_snapshot_that_does_not_say_counts_as_real_data_of_an_unknown_key(data_dir, columns):
    write_snapshot(data_dir, **columns)
    with pytest.raises(KeyRefused, match="not recorded"):
        run_key(data_dir, real, rotate=False)
    assert run_key(data_dir, real, rotate=True) == KEY.encode()


def test_an_unreadable_snapshot_counts_as_real_data_of_an_unknown_key(data_dir):
    data_dir.published_dir.mkdir(parents=True)
    data_dir.snapshot.write_bytes(b"not a database")
    with pytest.raises(KeyRefused, match="not recorded"):
        run_key(data_dir, real, rotate=False)


def test_without_a_key_only_the_generated_cohort_runs_on_the_demo_key(data_dir, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    assert run_key(data_dir, lambda: True, rotate=False) == DEMO_KEY.encode()
    with pytest.raises(KeyRefused, match=f"{KEY_ENV} is not set"):
        run_key(data_dir, real, rotate=True)
