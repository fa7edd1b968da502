"""The raw identifiers of a build: every value that names a person, and how to find it in text.

They are what must never leave the warehouse: the publish leak check looks for each
of them in every published text column (publish.raw_identifier_leaks), and a step's
messages and check samples show them only as pseudonyms (`warehouse_mentions`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from .pseudonym import ALONE, Mentions, match_rule

# Where raw identifiers live in the warehouse: (what they are, raw table, column).
# Every value of these is looked for in every published text column.
IDENTIFIER_SOURCES = (
    ("the roster participant_id", "roster", "participant_id"),
    ("the roster fitbit_id", "roster", "fitbit_id"),
    ("the per-person folder", "files", "participant_id"),
    ("the app sessions' participant_id", "app_sessions", "participant_id"),
    ("the check-ins' participant_id", "app_checkins", "participant_id"),
    ("the questionnaires' record_id", "prom", "record_id"),
    *(
        (f"the wearable {column}", table, column)
        for table in (
            "wearable_intervals",
            "wearable_sleep",
            "wearable_vitals",
            "wearable_workouts",
        )
        for column in ("participant_id", "fitbit_id")
    ),
)
DISPLAY_NAME = ("a roster display_name", "roster", "display_name")  # optional column


def _raw_columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(
        con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = 'raw'"
        ).fetchall()
    )


def identifier_needles(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every raw identifier (and roster display name) with how it is matched (`match_rule`)."""
    present = _raw_columns(con)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for what, table, column in IDENTIFIER_SOURCES:
        if (table, column) not in present:
            continue
        for (value,) in con.execute(
            f'select distinct trim("{column}") from raw."{table}" where trim("{column}") <> \'\''
        ).fetchall():
            found.setdefault((value.lower(), match_rule(value)), (value, what))
    what, table, column = DISPLAY_NAME
    if (table, column) in present:  # optional in the roster
        for (value,) in con.execute(
            f'select distinct trim("{column}") from raw."{table}" where trim("{column}") <> \'\''
        ).fetchall():
            # names are short and common words: only where they stand alone
            found.setdefault((value.lower(), ALONE), (value, what))
    return pl.DataFrame(
        [(needle, rule, value, what) for (needle, rule), (value, what) in found.items()],
        schema={"needle": pl.String, "rule": pl.String, "identifier": pl.String, "what": pl.String},
        orient="row",
    )


def warehouse_mentions(con: duckdb.DuckDBPyConnection, key: bytes) -> Mentions:
    """Every raw identifier and display name of the open warehouse, ready to be hidden in text."""
    needles = identifier_needles(con)
    names = needles.filter(pl.col("what") == DISPLAY_NAME[0])["identifier"]
    identifiers = needles.filter(pl.col("what") != DISPLAY_NAME[0])["identifier"]
    return Mentions(identifiers, key, names=names)
