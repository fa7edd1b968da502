"""What Data health's row and issue counts mean, written once for the column help and the notes
beside the numbers.

The counts come from different places and count different things: rows read and landed per
landing file (`meta.source_files`, each parser's own count), quarantined lines per file, and
issues (`marts.ingest_issues`: one per broken field, or per unlinked wearable person and
file). Where they could be read as one another, the page says what each counts.
"""

from __future__ import annotations

import polars as pl

MEASUREMENT = (
    "one metric (steps, active minutes, minutes worn) of one person over one interval (a minute, "
    "a quarter hour, an hour or a day), or one night or episode of sleep"
)
"""What one landed row of a wearable export is (raw/wearable_*; pipelines/lib/parsers)."""

READ = (
    "Records in the source's landing files as exported: data lines of a CSV, messages of a FIT "
    "file, records of a JSON or XML export. Every file counts, so an export that repeats an "
    "earlier one (a roster or Fitabase export sent again) counts its rows again."
)
LANDED = (
    "Rows written to raw/. A program export's row lands as it is; a wearable export lands as "
    f"measurements — {MEASUREMENT} — so it can land more rows than it has, or fewer (see the "
    "note below the table). Rows of people not on the roster land too (Rows not linked, below)."
)
QUARANTINED_LINES = (
    "Lines that broke the export spec, set aside with a reason (below): none of their fields lands."
)
WHY_LANDED_DIFFERS = (
    f"A landed wearable row is one measurement — {MEASUREMENT}. So one export line can land "
    "several rows (a daily summary line gives the day's steps and its active minutes; a line of "
    "a wide minute file is an hour holding 60 minutes of steps), and other lines land fewer or "
    "none: a 0 that measures nothing (a tracker also writes 0 steps while it is off), an exact "
    "duplicate of another line, or second-by-second heart rate, which lands as minutes worn per "
    "quarter hour."
)

QUARANTINED_ISSUES = (
    "Broken fields in rows that broke the export spec and were set aside (they never reach the "
    "marts). Counted per field: a line with two broken fields counts twice here and once in the "
    "freshness table's Rows quarantined, which counts lines."
)
NOT_LINKED_ISSUES = (
    "Issues of rows whose participant (or Fitabase Id) is not in the roster: one per app or "
    "questionnaire row, but one per person and file for a wearable export — its reason says how "
    "many of their rows are ignored. Those rows are in Rows landed above; they reach no mart."
)
OTHER_ISSUES = (
    "Files quarantined, unknown columns ignored, exact duplicate lines dropped (a duplicate is "
    "read but does not land)."
)

ISSUES = (
    "Entries of marts.ingest_issues: one per broken field of a quarantined line, per unlinked app "
    "or questionnaire row, per unlinked wearable person and file, per duplicate line dropped, "
    "per file quarantined — not a count of rows."
)


def landed_vs_read_note(files: pl.DataFrame) -> str | None:
    """The note beside the freshness table for the sources whose rows landed are not their rows
    read minus quarantined; None when every shown source lands what it read.

    `files` is `queries.source_files_by_source(...)` (suppressed sources have no numbers and
    are left out).
    """
    differ = files.filter(
        ~pl.col("suppressed")
        & (pl.col("rows_landed") != pl.col("rows_read") - pl.col("rows_quarantined"))
    )
    if not differ.height:
        return None
    each = "; ".join(
        f"**{row['source']}** {row['rows_read']:,} read → {row['rows_landed']:,} landed"
        + (f" ({row['rows_quarantined']:,} quarantined)" if row["rows_quarantined"] else "")
        for row in differ.iter_rows(named=True)
    )
    return f"Rows landed are not rows read minus rows quarantined for {each}. {WHY_LANDED_DIFFERS}"
