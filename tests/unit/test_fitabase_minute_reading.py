"""Fitabase minute and second files read fast, in blocks and in byte ranges, report what the csv
module reports.

The csv module's reading (`reading._read_with_csv`, the reader every file went through before)
is the reference: for files with every kind of awkward line — blank, whitespace, commas only,
short, long, padded, broken values, mixed line ends, no final line end — the block reader must
give the same rows, parsed times, issues and rows read, whatever the block size. A file read as
separate byte ranges (`MinuteFile.parse_range`, then `merge`; on the cluster one task each,
tests/pipeline/test_dask_s3.py) must give what parsing it whole gives, lines and all.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib import raw_store
from pipelines.lib.parse_cluster import LOCAL_RANGES_BYTES, RANGE_BYTES, ParseCluster
from pipelines.lib.parsers import SOURCES_BY_NAME
from pipelines.lib.parsers.fitabase import HEARTRATE_SECONDS, reading
from pipelines.lib.parsers.fitabase.canonical import whole_numbers
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.storage import open_store

T = "4/12/2016 2:47:30 AM"
AWKWARD = [
    f"1503960366,{T},70",
    "",
    "   ",
    ",,",
    " , ,\t",
    "\u00a0",  # a no-break space alone: blank to csv too
    f"\u00a0x,{T},70",
    f"1503960366,{T}",
    f"1503960366,{T},70,5",
    f"1503960366,{T},70,",
    f"1503960366,{T},",
    f",{T},70",
    f" 1503960366 , {T} , 71 ",
    f"1503960366,{T},700",
    "1503960366,4/31/2016 2:47:30 AM,70",
    "1503960366,2016-04-12 02:47:30,70",
    f"1503960366,{T},+72",
    f"1503960366,{T},072",
    f"1503960366,{T},7.0",
    f"1503960366,{T},99999999999999999999",
]


def fitabase_time(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.strftime('%I').lstrip('0')}:{t:%M:%S} {t:%p}"


def heart_rate_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines, t = [], datetime(2016, 4, 12, 23, 50)
    for _ in range(n):
        t += timedelta(seconds=rng.choice([5, 5, 10, 15]))
        lines.append(
            f"{rng.choice(['2022484408', '8877689391'])},{fitabase_time(t)},{rng.randrange(50, 120)}"
        )
    return lines


def write(path: Path, header: str, lines: list[str], ends: list[str] | None = None) -> Path:
    ends = ends or ["\r\n"] * (len(lines) + 1)
    path.write_bytes(
        "".join(f"{line}{end}" for line, end in zip([header, *lines], ends, strict=False)).encode()
    )
    return path


def read_both(path: Path, chunk_bytes: int | None, numbers: bool = False):
    """(issues, rows read, usable) and rows of the block reader and of the csv module; with
    `numbers`, blocks may hand on Value as integers, so both sides' Values are compared as such."""
    fast_rows: list[pl.DataFrame] = []
    fast = reading._read_file(path, HEARTRATE_SECONDS, fast_rows.append, chunk_bytes, numbers)
    csv_rows: list[pl.DataFrame] = []
    with path.open("rb") as handle:
        by_csv = reading._read_with_csv(handle, 0, 1, None, HEARTRATE_SECONDS, csv_rows.append)
    if numbers:
        fast_rows = [r.with_columns(whole_numbers(r["Value"])) for r in fast_rows]
        csv_rows = [r.with_columns(whole_numbers(r["Value"])) for r in csv_rows]
    return (fast, pl.concat(fast_rows)), (by_csv, pl.concat(csv_rows))


@pytest.mark.parametrize("numbers", [False, True])
@pytest.mark.parametrize("chunk_bytes", [None, 64, 1])
def test_block_reading_reports_what_the_csv_module_reports(tmp_path, chunk_bytes, numbers):
    rng = random.Random(5)
    lines = heart_rate_lines(400, seed=1)
    for line in AWKWARD:
        lines.insert(rng.randrange(len(lines)), line)
    ends = [rng.choice(["\r\n", "\n"]) for _ in range(len(lines))] + [""]  # no final line end
    path = write(tmp_path / "heartrate_seconds_merged.csv", "Id,Time,Value", lines, ends)
    ends = [rng.choice(["\r\n", "\n"]) for _ in range(len(lines))] + [""]  # no final line end
    path = write(tmp_path / "heartrate_seconds_merged.csv", "Id,Time,Value", lines, ends)
    (fast, fast_rows), (by_csv, csv_rows) = read_both(path, chunk_bytes, numbers)
    assert fast == by_csv
    assert fast_rows.equals(csv_rows)
    issues, rows_read, usable = fast
    assert usable and rows_read == len(lines) - 5  # five blank lines
    assert {i.reason for i in issues} >= {
        "expected 3 fields, found 2",
        "expected 3 fields, found 4",
    }
    assert {i.value for i in issues} >= {"700", "7.0", "99999999999999999999"}
    assert len(issues) == 10 and fast_rows.height == rows_read - len({i.line for i in issues})


def test_blocks_hand_on_integers_unless_a_value_must_be_quoted(tmp_path):
    """With `numbers`, a block whose Values are all integers in range hands them on as such; a
    block with one that is not is read as text, so its issue quotes the value as written."""
    lines = heart_rate_lines(40, seed=2)
    lines[30] = lines[30].rsplit(",", 1)[0] + ",300"
    path = write(tmp_path / "heartrate_seconds_merged.csv", "Id,Time,Value", lines)
    blocks: list[pl.DataFrame] = []
    issues, rows_read, usable = reading._read_file(
        path, HEARTRATE_SECONDS, blocks.append, chunk_bytes=600, numbers=True
    )
    assert usable and rows_read == 40
    assert [(i.line, i.value) for i in issues] == [(32, "300")]
    as_text = [b["row_number"] for b in blocks if b.schema["Value"] == pl.String]
    assert len(blocks) > 2 and len(as_text) == 1  # the others: integers
    assert as_text[0].min() < 32 < as_text[0].max()


def test_a_quote_or_a_lone_carriage_return_hands_the_rest_to_the_csv_module(tmp_path):
    lines = heart_rate_lines(300, seed=2)
    lines[150] = f'"2022484408","{T}",70'
    lines[151] = f'"2022,484408","{T}",70'  # a comma inside quotes: one field
    lines[200] = '2022484408,"4/12/2016\n2:47:35 AM",71'  # a line break inside quotes
    ends = ["\r\n"] * (len(lines) + 1)
    ends[250] = "\r"  # a line ended the old Mac way
    path = write(tmp_path / "heartrate_seconds_merged.csv", "Id,Time,Value", lines, ends)
    (fast, fast_rows), (by_csv, csv_rows) = read_both(path, chunk_bytes=2000)
    assert fast == by_csv
    assert fast_rows.equals(csv_rows)
    assert [(i.line, i.field) for i in fast[0]] == [(203, "Time")]  # where csv ends that row
    assert fast_rows.filter(pl.col("row_number") == 260)["Id"].to_list() == [lines[257][:10]]


@pytest.mark.parametrize("quoted", [False, True])
def test_a_byte_that_is_not_utf8_quarantines_the_file_naming_its_line(tmp_path, quoted):
    lines = heart_rate_lines(100, seed=3)
    if quoted:
        lines[10] = f'"2022484408",{T},70'
    content = ("Id,Time,Value\r\n" + "\r\n".join(lines) + "\r\n").encode()
    at = content.index(lines[60].encode())
    path = tmp_path / "heartrate_seconds_merged.csv"
    path.write_bytes(content[:at] + b"\xe9" + content[at:])
    issues, rows_read, usable = reading.read_in_chunks(path, HEARTRATE_SECONDS, lambda rows: None)
    assert not usable and rows_read == (0 if quoted else 60)  # csv decodes 8 KiB at a time
    ((issue),) = issues
    assert (issue.line, issue.action) == (62, "file quarantined") and "UTF-8" in issue.reason
    assert "line 62" in issue.reason


# --- byte ranges ------------------------------------------------------------------------------


def minute_steps_lines(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for fitbit_id in ("1503960366", "1624580081", "2022484408"):
        t = datetime(2016, 4, 12, 22, 0)
        for _ in range(3000):
            moving = rng.random() < 0.3 if t.hour >= 7 else rng.random() < 0.01
            lines.append(f"{fitbit_id},{fitabase_time(t)},{rng.randrange(1, 90) if moving else 0}")
            t += timedelta(minutes=1)
    return lines


def planted(lines: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = list(lines)
    for index in sorted(rng.sample(range(len(lines)), 12), reverse=True):
        lines.insert(index, rng.choice(["", "1,2", lines[index].replace(",", ",,", 1)]))
    lines[len(lines) // 2] = lines[len(lines) // 2].rsplit(",", 1)[0] + ",-4"
    moving = next(
        line for line in lines[len(lines) // 3 :: -1] if line.count(",") == 2 and line[-2:] != ",0"
    )
    lines.insert(len(lines) - 3, moving)  # a repeated minute, in another range than the first
    return lines


@pytest.mark.parametrize(
    ("name", "source", "header", "make"),
    [
        (
            "minuteStepsNarrow_merged.csv",
            "fitabase_minute_steps",
            "Id,ActivityMinute,Steps",
            minute_steps_lines,
        ),
        (
            "heartrate_seconds_merged.csv",
            "fitabase_heartrate",
            "Id,Time,Value",
            lambda s: heart_rate_lines(9000, s),
        ),
    ],
)
@pytest.mark.parametrize("ranges", [2, 7, 31])
def test_ranges_parsed_apart_merge_to_what_parsing_the_file_whole_gives(
    tmp_path, monkeypatch, name, source, header, make, ranges
):
    monkeypatch.setattr(reading, "CHUNK_BYTES", 3000)  # blocks cut within ranges too
    relative = f"fitabase/export/{name}"
    path = tmp_path / "landing" / relative
    path.parent.mkdir(parents=True)
    lines = planted(make(4), seed=ranges)
    write(path, header, lines)
    whole = raw_store.parse_landing_file(SOURCES_BY_NAME[source], LandingFile(path, relative))
    parsed = raw_store._parse_in_ranges(
        SOURCES_BY_NAME[source],
        open_store(tmp_path / "landing", "landing"),
        job(relative, path, ranges),
    )
    assert parsed is not None
    assert parsed.issues == whole.issues and parsed.rows_read == whole.rows_read
    assert list(parsed.tables) == list(whole.tables) == ["wearable_intervals"]
    assert parsed.tables["wearable_intervals"].equals(whole.tables["wearable_intervals"])
    assert len(whole.issues) >= 6 and whole.tables["wearable_intervals"].height > 100
    if source == "fitabase_minute_steps":
        (repeat,) = [i for i in whole.issues if i.action == "duplicate dropped"]
        first = lines.index(lines[-4]) + 2
        assert (repeat.line, repeat.reason) == (
            len(lines) - 2,
            f"repeats the steps of line {first}; counted once",
        )


def job(relative: str, path: Path, ranges: int) -> raw_store.ParseJob:
    return raw_store.ParseJob(
        relative, None, "sha", "key", path.stat().st_size, relative, None, ranges=ranges
    )


def test_a_file_that_needs_the_csv_module_or_is_broken_in_a_later_range(tmp_path):
    landing = tmp_path / "landing"
    relative = "fitabase/export/heartrate_seconds_merged.csv"
    path = landing / relative
    path.parent.mkdir(parents=True)
    source = SOURCES_BY_NAME["fitabase_heartrate"]
    store = open_store(landing, "landing")
    lines = heart_rate_lines(5000, seed=6)
    lines[4000] = f'"2022484408",{T},70'
    write(path, "Id,Time,Value", lines)
    assert raw_store._parse_in_ranges(source, store, job(relative, path, 5)) is None, (
        "only the csv module reads a quoted field as intended: the file is parsed whole"
    )
    lines[4000] = lines[3999]
    content = ("Id,Time,Value\r\n" + "\r\n".join(lines) + "\r\n").encode()
    at = content.index(lines[4500].encode()) + 3
    path.write_bytes(content[:at] + b"\xff" + content[at:])
    whole = raw_store.parse_landing_file(source, LandingFile(path, relative))
    parsed = raw_store._parse_in_ranges(source, store, job(relative, path, 5))
    assert (parsed.tables, parsed.issues, parsed.rows_read) == (
        whole.tables,
        whole.issues,
        whole.rows_read,
    )
    assert [(i.line, i.action) for i in parsed.issues] == [(4502, "file quarantined")]


def test_a_minute_file_goes_to_the_cluster_in_ranges_only_when_that_pays():
    """Without a configured scheduler, starting the local cluster for one file pays only when
    it is big; a configured cluster is running already, so any file goes in ranges."""
    mb = 1 << 20
    local = ParseCluster(workers=2)
    assert local.ranges_for(300 * mb) == 1 and not local.worth_it(1, 300 * mb)
    assert local.ranges_for(LOCAL_RANGES_BYTES) == math.ceil(LOCAL_RANGES_BYTES / RANGE_BYTES)
    assert local.worth_it(local.ranges_for(LOCAL_RANGES_BYTES), LOCAL_RANGES_BYTES)
    configured = ParseCluster("tcp://127.0.0.1:8786")
    assert configured.ranges_for(40 * mb) == math.ceil(40 * mb / RANGE_BYTES) == 2


def test_consecutive_ranges_share_a_task_only_while_every_worker_thread_gets_plenty():
    """A 8.6 GB heart-rate file (360 ranges) on the 2-core machine goes as 90 tasks; on a
    cluster with as many threads as it has ranges, or for a small file, one range per task."""
    from pipelines.lib.parse_cluster import RANGES_PER_TASK, TASKS_PER_THREAD, ranges_per_task

    assert ranges_per_task(360, 2) == RANGES_PER_TASK == 4
    assert ranges_per_task(360, 1) == RANGES_PER_TASK
    assert ranges_per_task(2 * TASKS_PER_THREAD * 3 - 1, 2) == 2  # still 16 tasks per thread
    assert ranges_per_task(360, 64) == ranges_per_task(57, 2) == ranges_per_task(1, 0) == 1


def test_ranges_find_their_own_line_starts_even_inside_a_line_longer_than_a_read(tmp_path):
    """Each range task moves its ends to line starts itself; a line longer than the reads that
    look for them (64 KB) spans several ranges, which then hold no line of their own."""
    relative = "fitabase/export/heartrate_seconds_merged.csv"
    path = tmp_path / "landing" / relative
    path.parent.mkdir(parents=True)
    lines = heart_rate_lines(3000, seed=8)
    lines[1500] = "x" * (300 << 10)  # one field: a row quarantined, 300 KB long
    write(path, "Id,Time,Value", lines)
    size = path.stat().st_size
    ranges = 40  # ~10 KB each: many start and end inside the long line
    assert size // ranges < raw_store._WINDOW < 300 << 10
    source = SOURCES_BY_NAME["fitabase_heartrate"]
    whole = raw_store.parse_landing_file(source, LandingFile(path, relative))
    parsed = raw_store._parse_in_ranges(
        source, open_store(tmp_path / "landing", "landing"), job(relative, path, ranges)
    )
    assert parsed is not None
    assert parsed.issues == whole.issues and parsed.rows_read == whole.rows_read
    assert [(i.line, i.reason) for i in whole.issues] == [(1502, "expected 3 fields, found 1")]
    assert parsed.tables["wearable_intervals"].equals(whole.tables["wearable_intervals"])
