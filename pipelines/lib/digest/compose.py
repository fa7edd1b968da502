"""What a coach's weekly digest says, read from the published snapshot.

No health value, no name and no participant id reaches a digest: a person is their pid (the
keyed pseudonym the dashboard uses) and a link to their page; what a line says is only which of
three things apply — a raised or high early-warning band, open alerts (how many), no check-in for
some days (how many). The dashboard, behind its sign-in, shows who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit

import duckdb

from pipelines.lib.rules import ProgramRules, read_recorded_rules
from pipelines.lib.statistics.early_warning import BANDS, LOW

BANDS_TO_LOOK_AT = tuple(band for band in BANDS if band != LOW)


class DigestError(RuntimeError):
    """The digest cannot be made or sent: the message says what to set or run."""


@dataclass(frozen=True)
class Coach:
    username: str
    coach_id: str
    email: str | None
    timezone: str


@dataclass(frozen=True)
class PersonLine:
    pid: str
    band: str | None  # "raised" or "high" in the latest completed week, else None
    open_alerts: int
    days_without_checkin: int | None  # only when at least checkin_silence_days

    def order(self) -> tuple:
        rank = BANDS_TO_LOOK_AT.index(self.band) if self.band else len(BANDS_TO_LOOK_AT)
        return (rank, -self.open_alerts, -(self.days_without_checkin or 0), self.pid)


@dataclass(frozen=True)
class Caseload:
    """What the snapshot says about one coach's active people."""

    active_people: int
    lines: tuple[PersonLine, ...] = field(default=())


@dataclass(frozen=True)
class Snapshot:
    run_id: str
    as_of: date
    rules: ProgramRules
    caseloads: dict[str, Caseload]  # coach_id → caseload


def dashboard_url(base_url: str) -> str:
    """The dashboard's base URL without a trailing slash; DigestError unless http(s)://host…"""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise DigestError(
            f"dashboard URL {base_url!r}: give the address people open the dashboard at, "
            "e.g. https://steadyback.example.org (STEADYBACK_DASHBOARD_URL or --base-url)"
        )
    return base_url.strip().rstrip("/")


def read_snapshot(snapshot: Path, coach_ids: list[str]) -> Snapshot:
    """The caseloads of these coaches from the published snapshot (read-only)."""
    if not snapshot.is_file():
        raise DigestError(f"no published snapshot at {snapshot}: run `steadyback run` first")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'models'"
            ).fetchall()
        }
        if "disengagement_risk" not in present:
            raise DigestError(
                f"{snapshot} has no early warning (models.disengagement_risk; published by an "
                "older steadyback): run `steadyback run` once"
            )
        run_id, as_of = con.execute("select run_id, as_of from meta.snapshot").fetchone()
        rules = read_recorded_rules(con).rules
        rows = con.execute(
            _CASELOAD_SQL, [coach_ids, as_of, as_of, rules.checkin_silence_days]
        ).fetchall()
    people: dict[str, int] = {}
    lines: dict[str, list[PersonLine]] = {}
    for coach_id, pid, band, alerts, silent_days in rows:
        people[coach_id] = people.get(coach_id, 0) + 1
        line = PersonLine(pid, band, alerts, silent_days)
        if line.band or line.open_alerts or line.days_without_checkin is not None:
            lines.setdefault(coach_id, []).append(line)
    caseloads = {
        coach_id: Caseload(
            people.get(coach_id, 0),
            tuple(sorted(lines.get(coach_id, []), key=PersonLine.order)),
        )
        for coach_id in coach_ids
    }
    return Snapshot(run_id, as_of, rules, caseloads)


# $1 coach ids, $2/$3 the snapshot's as-of day, $4 checkin_silence_days
_CASELOAD_SQL = """
with people as (
    select pid, coach_id, enrolled_on from marts.participants
    where coach_id in (select unnest(?::varchar[])) and status = 'active'
),

-- the early warning of the person's latest completed week, if that week ended in the last 7 days
-- (someone no longer at risk, e.g. disengaged already, has no such row)
latest_risk as (
    select r.pid, r.band
    from models.disengagement_risk as r
    semi join people using (pid)
    where r.as_of > ?::date - 7
    qualify row_number() over (partition by r.pid order by r.week desc) = 1
),

alerts as (
    select pid, count(*) as open_alerts
    from marts.flags
    where is_open and severity = 'alert'
    group by pid
),

last_checkin as (
    select pid, max(day) as day
    from marts.participant_day
    where day_state <> 'unknown'
        and (pain is not null or sleep_quality is not null or stress is not null
            or movement_confidence is not null)
    group by pid
),

final as (
    select
        p.coach_id,
        p.pid,
        case when r.band in ('raised', 'high') then r.band end as band,
        coalesce(a.open_alerts, 0)::integer as open_alerts,
        -- never checked in: counted from the day before enrolment
        ?::date - coalesce(c.day, p.enrolled_on - 1) as days_without_checkin
    from people as p
    left join latest_risk as r using (pid)
    left join alerts as a using (pid)
    left join last_checkin as c using (pid)
)

select
    coach_id,
    pid,
    band,
    open_alerts,
    case when days_without_checkin >= ? then days_without_checkin end as days_without_checkin
from final
order by coach_id, pid
"""


@dataclass(frozen=True)
class Digest:
    coach: Coach
    week: str  # ISO week in the coach's time zone, e.g. 2026-W26
    run_id: str
    as_of: date
    caseload: Caseload
    base_url: str
    silence_days: int

    @property
    def key(self) -> str:
        """One mail per coach and week: the idempotency key recorded in the ledger."""
        return f"{self.coach.username}/{self.week}"

    @property
    def at_risk(self) -> int:
        return sum(line.band is not None for line in self.caseload.lines)

    @property
    def with_alerts(self) -> int:
        return sum(line.open_alerts > 0 for line in self.caseload.lines)

    @property
    def silent(self) -> int:
        return sum(line.days_without_checkin is not None for line in self.caseload.lines)

    def link(self, pid: str) -> str:
        return f"{self.base_url}/person?pid={quote(pid, safe='')}"

    @property
    def subject(self) -> str:
        n = len(self.caseload.lines)
        if not n:
            return f"steadyback, week {self.week}: nobody in your caseload needs a look"
        return f"steadyback, week {self.week}: {_count(n, 'person', 'people')} to look at"

    def text(self) -> str:
        lines = [
            "Hello,",
            "",
            f"your steadyback digest for week {self.week}, from data as of "
            f"{self.as_of:%a %-d %b %Y}.",
            "",
            f"Of the {_count(self.caseload.active_people, 'active participant', 'active participants')}"
            " in your caseload:",
            f"  {self.at_risk} at raised or high risk of stopping (early warning)",
            f"  {self.with_alerts} with open alerts",
            f"  {self.silent} stopped checking in ({self.silence_days} days or more without a "
            "check-in)",
            "",
        ]
        if self.caseload.lines:
            lines.append("People to look at:")
            lines += [f"  - {self._line(line)}" for line in self.caseload.lines]
        else:
            lines.append("Nobody needs a look this week.")
        lines += [
            "",
            f"Your caseload: {self.base_url}/caseload",
            "",
            "This e-mail names no one and holds no health information: the dashboard shows "
            "who and why after you sign in.",
        ]
        return "\n".join(lines) + "\n"

    def _line(self, line: PersonLine) -> str:
        said = []
        if line.band:
            said.append(f"{line.band} risk of stopping")
        if line.open_alerts:
            said.append(_count(line.open_alerts, "open alert", "open alerts"))
        if line.days_without_checkin is not None:
            said.append(f"no check-in for {line.days_without_checkin} days")
        return f"{line.pid}: {'; '.join(said)} — {self.link(line.pid)}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def compose(coach: Coach, week: str, snapshot: Snapshot, base_url: str) -> Digest:
    return Digest(
        coach,
        week,
        snapshot.run_id,
        snapshot.as_of,
        snapshot.caseloads.get(coach.coach_id, Caseload(0)),
        base_url,
        snapshot.rules.checkin_silence_days,
    )
