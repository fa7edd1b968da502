"""Published snapshots made by hand, holding only what a test of their readers needs."""

from __future__ import annotations

from pathlib import Path

import duckdb


def snapshot_of_coaches(data_dir: Path, coach_ids: list) -> Path:
    """published/current.duckdb with a `marts.participants` of one person per coach id
    (pid, coach_id) and nothing else; returns the snapshot's path."""
    snapshot = data_dir / "published" / "current.duckdb"
    snapshot.parent.mkdir(parents=True)
    with duckdb.connect(str(snapshot)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.participants (pid varchar, coach_id varchar)")
        for number, coach_id in enumerate(coach_ids):
            connection.execute(
                "insert into marts.participants values (?, ?)", [f"p{number}", coach_id]
            )
    return snapshot
