"""landing/ and raw/ in S3 (moto's S3 server over HTTP) behave as the local folders do.

The same export tree, once in a folder and once as objects, must give every source the same
files in the same order with the same hashes; the sensor's fingerprint must move when an
object is uploaded again; a partition left without its marker (a worker that died while
writing it) must be parsed again, its stray objects removed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import fsspec
import pytest

from pipelines.lib.landing import landing_fingerprint
from pipelines.lib.layout import DataDir
from pipelines.lib.parsers import SOURCES, SOURCES_BY_NAME
from pipelines.lib.raw_store import SUMMARY, ingest_source, landing_files, partition_path
from pipelines.lib.storage import MTIME_METADATA, StorageError, open_store

# one file for each way a source's patterns can match, or not
TREE = {
    "roster/roster_2026-05-11.csv": "participant_id,cohort,coach_id,enrolled_on,timezone\n",
    "roster/old/roster_2026-01-01.csv": "not matched: roster/*.csv is one level only\n",
    "roster/.roster_2026-05-12.csv.part": "a partial copy\n",
    "app/sessions_2026-05-11.jsonl": "{}\n",
    "app/checkins_2026-05-11.csv": "x\n",
    "prom/redcap_export.csv": "record_id\n",
    "fitabase/dailySteps_merged.csv": "Id\n",
    "fitabase/Fitabase Data 2.16.26-5.10.26/dailyActivity_merged.csv": "Id\n",
    "fitabase/.sync/heartrate_seconds_merged.csv": "a hidden folder\n",
    "fitbit/P-00002/Physical Activity/steps-2020-01-01.json": "[]\n",
    "fitbit/P-00002/Sleep/sleep-2020-01-01.json": "[]\n",
    "apple_health/P-00001/export.zip": "zip\n",
    "apple_health/P-00001/apple_health_export/export.xml": "<HealthData/>\n",
    "apple_health/export.xml": "directly under apple_health/: found, to be quarantined\n",
    "garmin/P-00003/2026/a.FIT": "fit\n",
    "garmin/P-00003/b.fit": "fit\n",
    "oura/P-00004/oura_p-00004_trends.csv": "date\n",
    "oura/P-00004/sleep.json": "{}\n",
    "omh/P-00005/points.jsonl": "{}\n",
    "omh/P-00005/.draft/points.json": "a hidden folder\n",
}


def write_tree(landing: Path, s3_url: str) -> None:
    """TREE in a local folder and as objects, each file with one export time in both: the
    local file's mtime, the object's `mtime` metadata (as `rclone copy` keeps it). The times
    are whole seconds apart and run against the order of the paths."""
    fs = fsspec.filesystem("s3")
    newest = int(time.time()) - 1
    for n, (relative, text) in enumerate(TREE.items()):
        exported = newest - n
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (exported, exported))
        key = f"{s3_url.removeprefix('s3://')}/{relative}"
        fs.pipe_file(key, text.encode(), Metadata={MTIME_METADATA: str(exported)})


def test_every_source_finds_the_same_files_in_s3_as_in_a_local_folder(s3_bucket, tmp_path):
    local = DataDir.at(tmp_path / "data")
    write_tree(local.landing, f"{s3_bucket}/landing")
    in_s3 = DataDir.at(tmp_path / "data", landing=f"{s3_bucket}/landing")

    matched, reordered = set(), False
    for source in SOURCES:
        expected = [
            (f.relative, f.sha256, f.participant_id, f.modified_at)
            for f in landing_files(local, source)
        ]
        found = landing_files(in_s3, source)
        assert [(f.relative, f.sha256, f.participant_id, f.modified_at) for f in found] == (
            expected
        ), f"{source.name}: the same files, hashes, export times, in the same (export) order"
        matched |= {f.relative for f in found}
        reordered |= expected != sorted(expected)
    assert reordered, "somewhere the export order is not the order of the paths"
    assert "apple_health/P-00001/apple_health_export/export.xml" in matched
    assert matched.isdisjoint(
        {
            "roster/old/roster_2026-01-01.csv",
            "roster/.roster_2026-05-12.csv.part",
            "fitabase/.sync/heartrate_seconds_merged.csv",
            "omh/P-00005/.draft/points.json",
        }
    )


def test_the_sensor_fingerprint_of_s3_moves_when_an_object_is_uploaded_again(s3_bucket, tmp_path):
    write_tree(tmp_path / "landing", f"{s3_bucket}/landing")
    landing = open_store(f"{s3_bucket}/landing", "test")
    fingerprint, files = landing_fingerprint(landing)
    assert files == len([r for r in TREE if not r.rsplit("/", 1)[-1].startswith(".")])
    assert landing_fingerprint(landing) == (fingerprint, files), "listing twice changes nothing"

    # the same bytes again: only the object's LastModified can move the fingerprint. S3 keeps
    # it to the whole second (moto too), so the upload waits for the next one to begin.
    relative = "oura/P-00004/sleep.json"
    (before,) = [f for f in landing.files() if f.relative == relative]
    time.sleep(max(0.0, (before.modified_ns // 1_000_000_000 + 1) - time.time()))
    fsspec.filesystem("s3").pipe_file(
        f"{s3_bucket.removeprefix('s3://')}/landing/{relative}", TREE[relative].encode()
    )
    (after,) = [f for f in landing.files() if f.relative == relative]
    assert after.size_bytes == before.size_bytes and after.modified_ns > before.modified_ns
    assert landing_fingerprint(landing) != (fingerprint, files)
    assert landing_fingerprint(landing)[1] == files


def test_an_unfinished_partition_in_s3_is_parsed_again_and_its_stray_objects_removed(
    s3_bucket, tmp_path
):
    roster = SOURCES_BY_NAME["roster"]
    fs = fsspec.filesystem("s3")
    bucket = s3_bucket.removeprefix("s3://")
    fs.pipe_file(
        f"{bucket}/landing/roster/roster_2026-05-11.csv",
        b"participant_id,cohort,coach_id,enrolled_on,timezone\n"
        b"P-00001,A,C-1,2026-03-02,America/Chicago\n",
    )
    data_dir = DataDir.at(tmp_path / "data", landing=f"{s3_bucket}/landing", raw=f"{s3_bucket}/raw")
    (found,) = landing_files(data_dir, roster)
    # a worker died while writing: one table up, no marker, and a file the parser never makes
    partition = f"{bucket}/raw/{partition_path(roster, found.key)}"
    fs.pipe_file(f"{partition}/roster.parquet", b"half a file")
    fs.pipe_file(f"{partition}/stray.parquet", b"left over")

    (result,) = ingest_source(data_dir, roster, b"k" * 16)

    assert result.parsed_now and result.status == "loaded" and result.rows_landed == 1
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(partition)) == [
        "issues.parquet",
        "roster.parquet",
        SUMMARY,
    ]
    (again,) = ingest_source(data_dir, roster, b"k" * 16)
    assert not again.parsed_now


@pytest.mark.parametrize(
    "location, why",
    [("gs://bucket/raw", "neither a local folder nor an s3://"), ("s3://", "names no bucket")],
)
def test_a_location_steadyback_cannot_use_is_refused_by_name(location, why, tmp_path):
    with pytest.raises(StorageError, match=why) as refused:
        DataDir.at(tmp_path, raw=location)
    assert "STEADYBACK_RAW" in str(refused.value)


def test_a_downloaded_copy_of_an_object_is_gone_when_its_block_ends(s3_bucket, tmp_path):
    """An object parsed from S3 is downloaded into a private temporary folder that its own
    `with` block removes, also when the parse fails: never left to Python's teardown, which
    the `steadyback` command skips (docs/privacy.md)."""
    write_tree(tmp_path / "landing", f"{s3_bucket}/landing")
    landing = open_store(f"{s3_bucket}/landing", "landing")
    with landing.local_copy("roster/roster_2026-05-11.csv") as path:
        assert path.read_text().startswith("participant_id,")
        assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert not path.parent.exists()
    with pytest.raises(RuntimeError), landing.local_copy("prom/redcap_export.csv") as failed:
        raise RuntimeError("the parse failed")
    assert not failed.parent.exists()
