"""The early warning's published tables (`models.disengagement_*`, docs/models.md), read for the
caseload, person and data-health queries — each of which authorises its viewer first.

A person's *current* risk is the prediction of their latest completed program week while they are
still in the program (status active, as the coach digest counts them). Someone without one has
completed the program or withdrawn, has no completed week yet, or is not at risk any more in the
model's sense: their first disengagement spell has lasted `disengagement_gap_days`, and the early
warning stops there.
A snapshot published before the early warning existed has none of these tables; the reads here
then answer with nulls (`decision` None) rather than fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from pipelines.lib.statistics.contract import CALIBRATION_SCHEMA, RISK_SCHEMA
from pipelines.lib.statistics.early_warning import BANDS, MODEL

Read = Callable[..., pl.DataFrame]
"""One query's rows over an open connection: `read(sql, params)` (`dashboards.snapshot.Reader`)."""

_PUBLISHED_SQL = """
select count(*) = 3 from information_schema.tables
where table_schema = 'models'
  and table_name in ('disengagement_risk', 'disengagement_model', 'disengagement_calibration')
"""


def _published(read: Read) -> bool:
    return bool(read(_PUBLISHED_SQL).item())


_DECISION_SQL = "select * from models.disengagement_model"


def _decision(read: Read) -> dict[str, Any] | None:
    """The `models.disengagement_model` row (which scorer is published, why, how both scored),
    or None when the snapshot has no early warning."""
    if not _published(read):
        return None
    rows = read(_DECISION_SQL)
    return rows.row(0, named=True) if rows.height else None


def _scorer(read: Read) -> dict[str, str] | None:
    """What the pages about people say of the decision: {"published": the scorer that made the
    bands, "reason": why}; None when the snapshot has no early warning."""
    decision = _decision(read)
    return None if decision is None else {key: decision[key] for key in ("published", "reason")}


CURRENT_RISK_COLUMNS = {
    "pid": pl.String,
    "risk_week": pl.Int64,
    "risk_as_of": pl.Date,
    "risk_probability": pl.Float64,
    "risk_band": pl.String,
    "risk_reasons": pl.String,
    "risk_model": pl.String,
    "risk_rank": pl.Int64,
    "latest_complete_week": pl.Int64,
    "disengaged_on": pl.Date,
}
"""What `_current_risk` gives per person: the risk_* columns are null without a current
prediction; `risk_rank` is the band's position in `BANDS` (1: high)."""

_CURRENT_RISK_SQL = """
with people as (
    select unnest($pids::varchar[]) as pid
),
completed as (
    select w.pid, max(w.week) as latest_complete_week
    from marts.participant_week as w
    semi join people using (pid)
    where w.week_complete
    group by w.pid
),
latest as (
    select r.pid, r.week, r.as_of, r.probability, r.band, r.reasons, r.model
    from models.disengagement_risk as r
    semi join people using (pid)
    qualify row_number() over (partition by r.pid order by r.week desc) = 1
),
current as (
    -- only the prediction of the latest completed week of someone still in the program is
    -- current: an older one belongs to a person the early warning no longer follows, and after
    -- the program's end or a withdrawal there is no stopping left to predict
    select l.*
    from latest as l
    join completed as c on c.pid = l.pid and c.latest_complete_week = l.week
    join marts.participants as p on p.pid = l.pid and p.status = 'active'
)
select
    p.pid,
    r.week::bigint as risk_week,
    r.as_of as risk_as_of,
    r.probability as risk_probability,
    r.band as risk_band,
    r.reasons as risk_reasons,
    r.model as risk_model,
    list_position($bands, r.band)::bigint as risk_rank,
    c.latest_complete_week::bigint as latest_complete_week,
    s.disengaged_on
from people as p
left join current as r using (pid)
left join completed as c using (pid)
left join marts.engagement_spells as s using (pid)
"""


def _current_risk(read: Read, pids: list[str]) -> pl.DataFrame:
    """One row per pid (CURRENT_RISK_COLUMNS), in no particular order."""
    if not pids or not _published(read):
        nobody = {name: [None] * len(pids) for name in CURRENT_RISK_COLUMNS}
        return pl.DataFrame({**nobody, "pid": pids}, schema=CURRENT_RISK_COLUMNS)
    risk = read(_CURRENT_RISK_SQL, {"pids": pids, "bands": list(BANDS)})
    return risk.cast(CURRENT_RISK_COLUMNS)  # type: ignore[arg-type]


_HISTORY_SQL = """
select week::bigint as week, as_of, probability, band, reasons, model
from models.disengagement_risk
where pid = $pid
order by week
"""


def _history(read: Read, pid: str) -> pl.DataFrame:
    """The person's published weeks (`models.disengagement_risk`), in program-week order."""
    if not _published(read):
        return pl.DataFrame(schema={k: v for k, v in RISK_SCHEMA.items() if k != "pid"})
    return read(_HISTORY_SQL, {"pid": pid})


_CALIBRATION_SQL = """
select scorer, bin, weeks, events, mean_predicted, observed_rate
from models.disengagement_calibration
order by scorer <> $model, bin
"""


def _calibration(read: Read) -> pl.DataFrame:
    """`models.disengagement_calibration` (empty when not validated or not published), the
    model's bins first."""
    if not _published(read):
        return pl.DataFrame(schema=CALIBRATION_SCHEMA)
    return read(_CALIBRATION_SQL, {"model": MODEL})
