"""Retention: Kaplan–Meier estimate of staying engaged with the program.

The spells it is estimated from — days since enrolment until a person disengages (the
first day that starts `disengagement_gap_days` days in a row without any completed session,
a program rule) or is censored at the end of what we can see (program end, withdrawal or
the run's as-of day) — are `marts.engagement_spells` (sql/marts/engagement_spells.sql), the
spell rule's one definition.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from .contract import RETENTION_SCHEMA

Z_95 = 1.959963984540054


def engagement_spells(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(pid, days, disengaged) per person followed, from `marts.engagement_spells`."""
    sql = "select pid, days, disengaged from marts.engagement_spells order by pid"
    return pl.from_arrow(con.sql(sql).to_arrow_table())


def kaplan_meier(spells: pl.DataFrame) -> pl.DataFrame:
    """models.retention: days_since_enrolment, at_risk, disengaged, still_engaged + 95 % CI.

    The CI uses Greenwood's variance on the log(−log) scale, which stays inside 0–1.
    """
    if spells.is_empty():
        return pl.DataFrame(schema=RETENTION_SCHEMA)
    times = spells["days"].to_numpy()
    events = spells["disengaged"].to_numpy()
    rows = []
    survival, greenwood = 1.0, 0.0
    for t in np.unique(times):
        at_risk = int((times >= t).sum())
        d = int(((times == t) & events).sum())
        c = int(((times == t) & ~events).sum())
        if d:
            survival *= 1 - d / at_risk
            if at_risk > d:
                greenwood += d / (at_risk * (at_risk - d))
        low, high = _loglog_ci(survival, greenwood)
        rows.append((int(t), at_risk, d, c, survival, low, high))
    return pl.DataFrame(rows, schema=RETENTION_SCHEMA, orient="row")


def _loglog_ci(survival: float, greenwood: float) -> tuple[float | None, float | None]:
    if survival <= 0 or survival >= 1:
        return (survival, survival) if survival >= 1 else (0.0, 0.0)
    log_s = np.log(survival)
    se = np.sqrt(greenwood) / abs(log_s)
    c = np.log(-log_s)
    return float(np.exp(-np.exp(c + Z_95 * se))), float(np.exp(-np.exp(c - Z_95 * se)))
