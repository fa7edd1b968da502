"""Publishing: atomic, never blocked by readers, refused when a blocking check fails or identifiers leak."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest
from landing_files import write_landing

from pipelines.lib.layout import DataDir
from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.lib.publish import PublishRefused, publish, raw_identifier_leaks
from pipelines.lib.warehouse import CheckOutcome
from pipelines.runner import run_pipeline

ROSTER = (
    "participant_id,cohort,site,coach_id,enrolled_on,program_weeks,timezone,fitbit_id\n"
    "P-00001,A,Northside,C-1,2026-03-02,2,America/Chicago,1503960366\n"
    "P-00002,A,Northside,C-1,2026-03-02,2,Europe/London,\n"
)
SESSIONS = (
    "session_id,participant_id,started_at,duration_s,kind,target,discomfort,guided_breathing,completed\n"
    "s1,P-00001,2026-03-02T22:30:00-06:00,600,stretch,hamstrings,2,true,true\n"
    "s2,P-00002,2026-03-05T07:00:00+00:00,600,stretch,core,5,false,true\n"
)


@pytest.fixture
def data_dir(tmp_path):
    return write_landing(tmp_path, {"roster/roster.csv": ROSTER, "app/sessions_1.csv": SESSIONS})


def snapshot_run_id(data_dir) -> str:
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        return con.execute("select run_id from meta.snapshot").fetchone()[0]


@pytest.fixture(scope="module")
def published_once(tmp_path_factory):
    """The two people's exports run through the pipeline once: read it, don't change it."""
    data_dir = write_landing(
        tmp_path_factory.mktemp("published_once"),
        {"roster/roster.csv": ROSTER, "app/sessions_1.csv": SESSIONS},
    )
    first = run_pipeline(data_dir, log_level="WARNING")
    assert first.published, first.render()
    assert snapshot_run_id(data_dir) == first.run_id
    return data_dir


@pytest.fixture
def published(published_once, tmp_path):
    """A copy of `published_once` (landing/, raw/, the warehouse, the snapshot) to change."""
    return shutil.copytree(published_once, tmp_path / "data")


@pytest.mark.pipeline
def test_a_reader_holding_the_snapshot_open_never_blocks_the_next_run(published):
    data_dir, first_run_id = published, snapshot_run_id(published)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(data_dir / "published" / "current.duckdb")!r}, read_only=True)
            print(con.execute("select run_id from meta.snapshot").fetchone()[0], flush=True)
            sys.stdin.readline()  # hold the file open until told to look again
            print(con.execute("select run_id from meta.snapshot").fetchone()[0], flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == first_run_id
        second = run_pipeline(data_dir, log_level="WARNING")
        assert second.published, second.render()
        assert snapshot_run_id(data_dir) == second.run_id
        out, _ = reader.communicate("\n", timeout=30)
        assert out.strip() == first_run_id, "an open reader keeps its consistent old snapshot"
    finally:
        if reader.poll() is None:
            reader.kill()
    assert not list((data_dir / "published").glob(".*.tmp")), "no half-built file is left behind"


@pytest.mark.pipeline
def test_a_failing_blocking_check_keeps_the_old_snapshot(published, monkeypatch):
    data_dir = published
    before = snapshot_run_id(data_dir)

    import pipelines.defs.warehouse as warehouse_defs

    real = warehouse_defs.evaluate_check

    def failing(con, check, sample_size=5):
        outcome = real(con, check, sample_size)
        if check.table == "marts.participant_day" and check.name == "unique_pid_day":
            return CheckOutcome(check, 3, [{"pid": "p_x", "copies": "2"}])
        return outcome

    monkeypatch.setattr(warehouse_defs, "evaluate_check", failing)
    report = run_pipeline(data_dir, log_level="CRITICAL")
    assert not report.published and not report.success
    assert "unique_pid_day" in report.failure
    assert snapshot_run_id(data_dir) == before
    assert "NOT PUBLISHED" in report.render()


@pytest.mark.pipeline
def test_publish_refuses_a_build_that_would_leak_a_raw_identifier(published):
    layout = DataDir.at(published)
    with duckdb.connect(str(layout.warehouse)) as con:
        con.execute("create or replace table marts.leaky as select 'P-00001' as note")
        with pytest.raises(PublishRefused, match=r"marts\.leaky\.note holds 1 raw identifier"):
            publish(layout, con, "run-x", "test")
        # the meta tables are rebuilt before the check, so a fixed build publishes again
        con.execute("drop table marts.leaky")
        assert publish(layout, con, "run-y", "test").run_id == "run-y"


@pytest.mark.pipeline
def test_an_id_in_free_text_or_in_lower_case_refuses_the_publish_and_keeps_the_snapshot(
    published,
):
    data_dir = published
    before = snapshot_run_id(data_dir)
    landing = data_dir / "landing"
    (landing / "app" / "sessions_2.csv").write_text(
        SESSIONS.splitlines()[0]
        + "\ns3,P-00001,2026-03-03T07:00:00-06:00,600,stretch,hamstrings (P-00001),2,true,true\n"
    )
    (landing / "roster" / "roster_2.csv").write_text(
        ROSTER.replace("P-00002,A,Northside", "P-00002,A,home visits p-00002")
    )

    report = run_pipeline(data_dir, log_level="CRITICAL")

    assert not report.published
    assert "marts.sessions.target holds 1 raw identifier" in report.failure
    assert "marts.participants.site holds 1 raw identifier" in report.failure
    assert "p-0000" not in report.failure.lower(), "the refusal names people by pid only"
    assert snapshot_run_id(data_dir) == before


@pytest.mark.pipeline
def test_an_id_in_a_shifted_column_is_quarantined_by_pid_and_publishes(data_dir):
    (data_dir / "landing" / "app" / "sessions_2.csv").write_text(
        SESSIONS.splitlines()[0] + "\ns3,P-00001,p-00002,600,stretch,core,2,true,true\n"
    )

    assert run_pipeline(data_dir, log_level="WARNING").published
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        issue = con.execute(
            "select value, reason from marts.ingest_issues where field = 'started_at'"
        ).fetchone()
    pid = pseudonymize("P-00002", pseudonym_key())
    assert issue[0] == pid and f"got '{pid}'" in issue[1]


@pytest.mark.pipeline
def test_short_ids_display_names_and_machine_made_values_follow_their_own_rules(published):
    key = pseudonym_key()
    with duckdb.connect(str(DataDir.at(published).warehouse)) as con:
        # ids from an export that matched nobody: too short to look for inside words
        con.execute("insert into raw.app_sessions (participant_id) values ('17'), ('Q7')")
        harmless = [
            "its 17 rows",  # a count, not the id 17
            "q70 x",  # Q7 inside a word
            "Banana R. called",  # a display name inside a word
            "p_1503960366abcdef",  # a pid whose hex digits spell a fitbit_id
        ]
        leaking = {  # text → whose id the refusal names (by pid), or that it is a name
            "17": f"the app sessions' participant_id of {pseudonymize('17', key)}",
            "moved to q7.": f"the app sessions' participant_id of {pseudonymize('Q7', key)}",
            "device 1503960366": f"the roster fitbit_id of {pseudonymize('1503960366', key)}",
            "seen by ana r. today": "a roster display_name",
        }

        def leaks(text: str) -> list[str]:
            con.execute("create or replace table marts.notes as select ? as note", [text])
            return [x for x in raw_identifier_leaks(con, key) if "marts.notes" in x]

        # the roster's display_name is optional: looked for only when the roster has it
        con.execute("alter table raw.roster drop column if exists display_name")
        assert leaks("seen by ana r. today") == []
        con.execute("alter table raw.roster add column display_name varchar")
        con.execute(
            "update raw.roster set display_name = 'Ana R.' where participant_id = 'P-00001'"
        )
        assert {text: leaks(text) for text in harmless} == {text: [] for text in harmless}
        assert {text: leaks(text) for text in leaking} == {
            text: [f"marts.notes.note holds 1 raw identifier(s), e.g. {whose}"]
            for text, whose in leaking.items()
        }


@pytest.mark.pipeline
def test_sessions_land_on_the_local_day(published_once):
    snapshot = published_once / "published" / "current.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        days = con.execute(
            "select day::varchar, started_at::varchar from marts.sessions order by started_at"
        ).fetchall()
    assert days[0][0] == "2026-03-02", (
        "22:30 in Chicago is 04:30 UTC the next day, but counts on the 2nd"
    )
    assert days[0][1].startswith("2026-03-03 04:30:00")


def test_many_new_files_are_parsed_on_a_local_dask_cluster_with_the_same_result(
    tmp_path, monkeypatch
):
    """And the cluster starts while the files are hashed, its workers set up as configured."""
    from pipelines.lib.parse_cluster import PARALLEL_FILES, ParseCluster
    from pipelines.lib.parsers import SOURCES_BY_NAME
    from pipelines.lib.raw_store import ingest_source
    from pipelines.lib.storage import LocalFolder

    starting_when_hashed: list[bool] = []
    hash_file = LocalFolder.sha256

    def sha256(store: LocalFolder, relative: str) -> str:
        starting_when_hashed.append(cluster.started)
        return hash_file(store, relative)

    monkeypatch.setattr(LocalFolder, "sha256", sha256)
    roster = SOURCES_BY_NAME["roster"]
    serial: list[tuple] = []
    for parallel in (False, True):
        data_dir = DataDir.at(tmp_path / str(parallel))
        (data_dir.landing / "roster").mkdir(parents=True)
        for n in range(PARALLEL_FILES):
            (data_dir.landing / "roster" / f"roster_{n:02d}.csv").write_text(
                "participant_id,cohort,coach_id,enrolled_on,timezone\n"
                f"P-{n},A,C-1,2026-03-{n % 28 + 1:02d},America/Chicago\n"
                f"P-x{n},A,C-1,bad,America/Chicago\n"
            )
        starting_when_hashed.clear()
        with ParseCluster(workers=2 if parallel else 1) as cluster:
            results = ingest_source(data_dir, roster, b"k" * 16, cluster=cluster)
            assert cluster.started == parallel, "enough new files for a cluster of 2 workers"
            assert starting_when_hashed == [parallel] * PARALLEL_FILES, (
                "the cluster was starting before the first file was hashed"
            )
            if parallel:
                settings = cluster.client().run(
                    lambda: (
                        __import__("dask").config.get("distributed.worker.profile.enabled"),
                        __import__("os").environ.get("POLARS_MAX_THREADS"),
                        __import__("os").environ.get("MALLOC_TRIM_THRESHOLD_"),
                    )
                )
                assert list(settings.values()) == [(False, "1", None)] * 2, (
                    "no stack sampling, one Polars thread, glibc's own trimming in each worker"
                )
        summary = [
            (r.found.relative, r.rows_read, r.rows_landed, r.rows_quarantined) for r in results
        ]
        if parallel:
            assert summary == serial
        # a re-run finds nothing unseen: no cluster, nothing parsed
        with ParseCluster(workers=2) as cluster:
            again = ingest_source(data_dir, roster, b"k" * 16, cluster=cluster)
            assert not cluster.started and not any(r.parsed_now for r in again)
        serial = summary
    assert serial[0][1:] == (2, 1, 1)
