"""An independent recomputation of `marts.flags` (which flag, since when, how serious, open or not)
from lower-level published tables and rule values written out by the test.

Walks each person's days and weeks in Python (the mart uses windows over runs): the day flags from
`marts.participant_day`, the weekly flags from `marts.principles`, the pain baseline from
`marts.outcomes` and the weekly mean pain from `marts.participant_day` — never `marts.flags`.
docs/metrics.md, "Flags", is the definition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

Flag = tuple[str, str, date, str, bool]  # pid, flag, since, severity, is_open


@dataclass(frozen=True)
class FlagInputs:
    as_of: date
    active: set[str]
    wearers: set[str]
    days: dict[str, list[tuple]]  # pid → (program_day, day, day_state, wear_state, pain, week)
    weeks: dict[str, list[dict]]  # pid → principles rows of weeks with an elapsed day
    baselines: dict[str, tuple[float, int]]  # pid → (pain_baseline, pain_baseline_week)


def flag_inputs(snapshot: Path) -> FlagInputs:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        ((as_of,),) = con.execute("select as_of from meta.snapshot").fetchall()
        people = con.execute("select pid, status, has_wearable from marts.participants").fetchall()
        day_rows = con.execute(
            "select pid, program_day, day, day_state, wear_state, pain, program_week "
            "from marts.participant_day order by pid, program_day"
        ).fetchall()
        week_rows = con.execute("select * from marts.principles order by pid, week").fetchall()
        week_columns = [d[0] for d in con.description]
        baselines = {
            pid: (baseline, week)
            for pid, baseline, week in con.execute(
                "select pid, pain_baseline, pain_baseline_week from marts.outcomes "
                "where pain_baseline is not null"
            ).fetchall()
        }
    wearers = {pid for pid, _, wears in people if wears}
    wearers |= {row[0] for row in day_rows if row[4] != "no_data"}
    days: dict[str, list[tuple]] = defaultdict(list)
    for pid, *rest in day_rows:
        if rest[2] != "unknown":
            days[pid].append(tuple(rest))
    elapsed_weeks = {(pid, row[5]) for pid, rows in days.items() for row in rows}
    weeks: dict[str, list[dict]] = defaultdict(list)
    for row in week_rows:
        week = dict(zip(week_columns, row, strict=True))
        if (week["pid"], week["week"]) in elapsed_weeks:
            week["last_elapsed_day"] = max(d[1] for d in days[week["pid"]] if d[5] == week["week"])
            weeks[week["pid"]].append(week)
    active = {pid for pid, status, _ in people if status == "active"}
    return FlagInputs(as_of, active, wearers, dict(days), dict(weeks), baselines)


def _runs(rows: list[tuple], qualifies) -> list[tuple[date, date, int]]:
    """(first day, last day, length) of every run of consecutive program days that qualify."""
    runs: list[list] = []
    previous = None
    for program_day, day, *rest in rows:
        if not qualifies(rest):
            previous = None
            continue
        if previous == program_day - 1:
            runs[-1][1:] = [day, runs[-1][2] + 1]
        else:
            runs.append([day, day, 1])
        previous = program_day
    return [(first, last, n) for first, last, n in runs]


def expected_flags(inputs: FlagInputs, rules: dict) -> set[Flag]:
    flags: set[Flag] = set()

    def day_flag(pid: str, flag: str, first: date, last: date, severity: str) -> None:
        flags.add((pid, flag, first, severity, pid in inputs.active and last >= inputs.as_of))

    missed_runs: dict[str, list[tuple[date, date, int]]] = {}
    for pid, rows in inputs.days.items():
        missed_runs[pid] = _runs(rows, lambda rest: rest[0] == "missed")
        for first, last, n in missed_runs[pid]:
            if n >= rules["missed_days_info_days"]:
                severity = (
                    "alert"
                    if n >= rules["missed_days_alert_days"]
                    else "warning"
                    if n >= rules["missed_days_warning_days"]
                    else "info"
                )
                day_flag(pid, "missed_days", first, last, severity)
        if pid in inputs.wearers:
            for first, last, n in _runs(rows, lambda rest: rest[1] != "worn"):
                if n >= rules["no_wear_info_days"]:
                    severity = "warning" if n >= rules["no_wear_warning_days"] else "info"
                    day_flag(pid, "no_wearable_data", first, last, severity)

    for pid, weeks in inputs.weeks.items():
        # boom and bust: burst weeks followed by a long enough gap, chained into episodes
        bursts = []
        for week in weeks:
            practised = week["days_practised"] or 0
            if not (
                week["prescribed"] > 0
                and week["sessions"] is not None
                and week["sessions"] >= week["prescribed"]
                and week["sessions"] > practised
                and 1 <= practised <= rules["burst_max_practice_days"]
            ):
                continue
            done = [d[1] for d in inputs.days[pid] if d[5] == week["week"] and d[2] == "done"]
            gap = next((r for r in missed_runs[pid] if r[0] == max(done) + timedelta(days=1)), None)
            if gap is not None and gap[2] >= rules["burst_gap_days"]:
                bursts.append((min(done), gap[1]))
        bursts.sort()
        episodes: list[list[tuple[date, date]]] = []
        for burst in bursts:
            if episodes and burst[0] <= episodes[-1][-1][1] + timedelta(days=1):
                episodes[-1].append(burst)
            else:
                episodes.append([burst])
        for episode in episodes:
            n = len(episode)
            severity = (
                "alert"
                if n >= rules["boom_bust_alert_bursts"]
                else "warning"
                if n >= rules["boom_bust_warning_bursts"]
                else "info"
            )
            day_flag(pid, "boom_bust", episode[0][0], max(end for _, end in episode), severity)

        # the weekly flags: (week, n, value, rise) per qualifying week
        pain = _weekly_pain(inputs.days[pid], rules["baseline_min_checkins"])
        hits: dict[str, list[tuple]] = defaultdict(list)
        for week in weeks:
            w = week["week"]
            if (week["aggressive_sessions"] or 0) >= rules["too_intense_min_sessions"]:
                hits["too_intense"].append((week, week["aggressive_sessions"], None, None))
            if (week["breathing_known_sessions"] or 0) >= rules[
                "no_breathing_min_sessions"
            ] and week["breathing_sessions"] == 0:
                hits["no_breathing"].append((week, None, None, None))
            if (week["stretch_days"] or 0) >= rules["no_stability_min_days"] and week[
                "stability_days"
            ] == 0:
                hits["no_stability"].append((week, None, None, None))
            if (week["sleep_nights"] or 0) >= rules["short_sleep_min_nights"] and week[
                "mean_sleep_minutes"
            ] < rules["short_sleep_minutes"]:
                hits["short_sleep"].append((week, None, week["mean_sleep_minutes"], None))
            baseline = inputs.baselines.get(pid)
            if (
                baseline is not None
                and w > baseline[1]
                and w in pain
                and pain[w] >= baseline[0] + rules["pain_rising_points"] - 1e-9
            ):
                hits["pain_rising"].append((week, None, pain[w], pain[w] - baseline[0]))
        for flag, found in hits.items():
            episodes = []
            for hit in found:
                if episodes and hit[0]["week"] == episodes[-1][-1][0]["week"] + 1:
                    episodes[-1].append(hit)
                else:
                    episodes.append([hit])
            for episode in episodes:
                in_a_row = len(episode) >= rules["flag_escalation_weeks"]
                if flag == "too_intense":
                    most = max(h[1] for h in episode)
                    up = in_a_row or most >= rules["too_intense_alert_sessions"]
                    severity = "alert" if up else "warning"
                elif flag == "short_sleep":
                    lowest = min(h[2] for h in episode)
                    up = in_a_row or lowest < rules["short_sleep_warning_minutes"]
                    severity = "warning" if up else "info"
                elif flag == "pain_rising":
                    rise = max(h[3] for h in episode)
                    up = in_a_row or rise >= rules["pain_rising_alert_points"] - 1e-9
                    severity = "alert" if up else "warning"
                else:
                    severity = "warning" if in_a_row else "info"
                last_start = episode[-1][0]["week_start"]
                is_open = (
                    pid in inputs.active
                    and last_start <= inputs.as_of <= last_start + timedelta(days=6)
                )
                flags.add((pid, flag, episode[0][0]["week_start"], severity, is_open))
    return flags


def _weekly_pain(days: list[tuple], min_checkins: int) -> dict[int, float]:
    ratings: dict[int, list[int]] = defaultdict(list)
    for _, _, _, _, pain, week in days:
        if pain is not None:
            ratings[week].append(pain)
    return {w: sum(r) / len(r) for w, r in ratings.items() if len(r) >= min_checkins}


def published_flags(snapshot: Path) -> set[Flag]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return set(
            con.execute("select pid, flag, since, severity, is_open from marts.flags").fetchall()
        )
